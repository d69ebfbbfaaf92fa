// Model selection on the validation score: the best epoch so far, and a stop after
// `patience` epochs without a strictly better score. Its state goes into checkpoints so a
// resumed run stops where an uninterrupted one would.
#pragma once

namespace osteofm {

class EarlyStopping {
 public:
  explicit EarlyStopping(int patience) : patience_(patience) {}
  // Records epoch `epoch` (0-based) with validation score `score`; true when it is the new best.
  bool update(int epoch, double score) {
    if (score > best_) {
      best_ = score;
      best_epoch_ = epoch;
      bad_epochs_ = 0;
      return true;
    }
    ++bad_epochs_;
    return false;
  }
  bool should_stop() const { return bad_epochs_ >= patience_; }
  void restore(double best, int best_epoch, int bad_epochs) {
    best_ = best;
    best_epoch_ = best_epoch;
    bad_epochs_ = bad_epochs;
  }
  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }  // -1 before the first epoch
  int bad_epochs() const { return bad_epochs_; }

 private:
  int patience_;
  double best_ = -1;
  int best_epoch_ = -1, bad_epochs_ = 0;
};

}  // namespace osteofm
