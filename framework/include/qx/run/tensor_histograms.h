#pragma once
// Histograms of a few layers' weights and input activations, stored with an experiment so that
// `qx report` can draw the distributions every observer had to cut, next to the ranges each one
// chose (cell_tensors). They are taken where the observers of a folded cell look: on the float
// model with BatchNorm folded, over the calibration images.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/model.h"
#include "qx/store/results_db.h"

namespace qx::run {

using store::TensorHistogram;

// For each of `layers`: its weight, then the activation point that feeds it. The model must be
// the float model in eval mode; it is left with BatchNorm folded.
std::vector<TensorHistogram> layer_histograms(QuantizableModel& model, const std::vector<std::string>& layers,
                                              const std::vector<torch::Tensor>& calibration, int bins = 256);

// Fails, naming the known layers, when the model lacks one of `layers`.
void check_histogram_layers(torch::nn::Module& model, const std::vector<std::string>& layers,
                            const std::string& where);

}  // namespace qx::run
