#pragma once
// What an ONNX file computes with, node by node: for the model onnxruntime saves after its graph
// optimisation, which of the exported layers became integer kernels (QLinearConv, QGemm, ...)
// and which convolutions and matrix products it left in float.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qx::deploy {

struct OnnxCensus {
  std::map<std::string, int> ops;          // op type -> nodes
  std::vector<std::string> integer_nodes;  // convolutions and products on integers, by layer name
  std::vector<std::string> float_nodes;    // convolutions and products left in float, by layer name
};

// Reads `file` (a model onnxruntime saved, or one qx exported); throws qx::Error if it cannot.
OnnxCensus census_onnx(const std::filesystem::path& file);

}  // namespace qx::deploy
