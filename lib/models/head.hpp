// A head type (head.type in a run config): how wide the head's Linear is, what it adds
// beside it, how its outputs become class scores, and what training minimises. One file per
// type in models/heads/, each registering itself, as backbone families and tuning
// strategies do: a new head is one new file. The trainer, predict and explain never branch
// on a head's name.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace osteofm {

struct ClassifierImpl;

// What a training loss needs besides the batch: the training split's labels [N] int64 and
// DXA T-scores [N] float64 (NaN where none), on the CPU; the class weights on the device.
struct HeadLossInputs {
  torch::Tensor class_weight;
  double label_smoothing = 0;
  torch::Tensor labels, t_scores;
};

class HeadType {
 public:
  virtual ~HeadType() = default;
  virtual const char* name() const = 0;
  // Outputs of the head's Linear for `classes` classes; InputError when this type cannot
  // have that many.
  virtual int64_t outputs(int classes) const = 0;
  // Parameters beside the Linear (the ordinal cut-points), registered on the classifier
  // under their checkpoint names.
  virtual void add_parameters(ClassifierImpl& /*model*/) const {}
  // Head outputs [B, outputs] -> class scores [B, classes] (their softmax: probabilities).
  virtual torch::Tensor class_scores(const ClassifierImpl& model, const torch::Tensor& outputs) const = 0;
  // The batch's training loss from its head outputs; `rows` index the training split. By
  // default cross-entropy on the class scores (class_score_loss below).
  virtual torch::Tensor loss(const ClassifierImpl& model, const torch::Tensor& outputs, const torch::Tensor& rows,
                             const HeadLossInputs& inputs) const;
  // True when the head regresses the DXA T-score: every training row needs one, and the
  // predictions carry t_score_pred and its SD.
  virtual bool regresses_tscore() const { return false; }
  // The predicted T-score's mean and SD [B] each (heads that regress it).
  virtual std::pair<torch::Tensor, torch::Tensor> tscore_distribution(const torch::Tensor& outputs) const;
};

// The type registered as `name`; InputError "head.type must be softmax, ordinal or tscore,
// not 'x'" otherwise.
const HeadType& head_type(const std::string& name);
// The registered names in rank order: {"softmax", "ordinal", "tscore"}.
std::vector<std::string> head_type_list();

// Each models/heads/*.cpp: const HeadRegistrar <name>_registrar(RANK, &its_static_instance);
struct HeadRegistrar {
  HeadRegistrar(int rank, const HeadType* type);
};

// Cross-entropy on the class scores with the class weights and label smoothing: the
// objective of every head whose class scores are log probabilities or logits.
torch::Tensor class_score_loss(const ClassifierImpl& model, const torch::Tensor& outputs, const torch::Tensor& rows,
                               const HeadLossInputs& inputs);

}  // namespace osteofm
