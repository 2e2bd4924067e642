#include "qx/deploy/onnx_census.h"

#include <fstream>
#include <set>

#include <onnx/onnx_pb.h>

#include "qx/core/error.h"

namespace qx::deploy {

namespace {

// onnxruntime's integer kernels for convolutions and products (its QDQ fusions and the ONNX ones).
const std::set<std::string> kIntegerOps{"QLinearConv", "ConvInteger", "QGemm", "QLinearMatMul", "MatMulInteger",
                                        "MatMulIntegerToFloat", "DynamicQuantizeMatMul"};
const std::set<std::string> kFloatOps{"Conv", "FusedConv", "NchwcConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul"};

// onnxruntime names a fused node after the first node it replaced, plus "_token_N".
std::string layer_of(const std::string& node) {
  const auto token = node.find("_token_");
  return token == std::string::npos ? node : node.substr(0, token);
}

}  // namespace

OnnxCensus census_onnx(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) fail("{}: not a readable ONNX model", file.string());
  OnnxCensus census;
  for (const auto& node : model.graph().node()) {
    ++census.ops[node.op_type()];
    if (kIntegerOps.count(node.op_type())) census.integer_nodes.push_back(layer_of(node.name()));
    if (kFloatOps.count(node.op_type())) census.float_nodes.push_back(layer_of(node.name()));
  }
  return census;
}

}  // namespace qx::deploy
