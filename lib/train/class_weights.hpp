// Class weights of the training loss.
#pragma once
#include <vector>

#include "core/labels.hpp"

namespace osteofm {

// Weighted cross-entropy: N / (K n_k) for each class k of the N training labels (a class
// with no training image gets 0: it never appears in the loss). Plain cross-entropy: all 1.
inline std::vector<double> class_weights(const std::vector<int>& labels, bool weighted) {
  std::vector<double> counts(kNumClasses, 0.0), weights(kNumClasses, 1.0);
  for (int l : labels) counts[l] += 1;
  if (weighted)
    for (int k = 0; k < kNumClasses; ++k)
      weights[k] = counts[k] > 0 ? static_cast<double>(labels.size()) / (kNumClasses * counts[k]) : 0.0;
  return weights;
}

}  // namespace osteofm
