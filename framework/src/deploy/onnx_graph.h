#pragma once
// Writing an onnx::GraphProto: named initializers from tensors, nodes, attributes, value infos.
// Private to deploy/: the exporter's vocabulary, so that onnx_export.cpp reads as the mapping of
// a cell to operators and not as protobuf calls.
#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>
#include <torch/torch.h>

namespace qx::deploy {

class OnnxGraph {
 public:
  explicit OnnxGraph(onnx::GraphProto& graph) : graph_(graph) {}

  // Adds `value` (float32, int8, uint8, int32 or int64; any shape) as an initializer; returns `name`.
  std::string constant(const std::string& name, const torch::Tensor& value);
  // Adds a node named after its output; returns it for attributes.
  onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& output);

  static void attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value);
  static void attribute(onnx::NodeProto& node, const std::string& name, float value);
  static void attribute(onnx::NodeProto& node, const std::string& name, const std::string& value);
  static void ints(onnx::NodeProto& node, const std::string& name, const std::vector<std::int64_t>& values);
  // A float32 tensor of `dims`; -1 is a named dimension (the batch, or an unknown class count).
  static void tensor_value(onnx::ValueInfoProto& info, const std::string& name, const std::vector<std::int64_t>& dims);

 private:
  onnx::GraphProto& graph_;
};

}  // namespace qx::deploy
