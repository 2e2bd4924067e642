#include "onnx_graph.h"

#include "qx/core/error.h"

namespace qx::deploy {

namespace {

int onnx_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return onnx::TensorProto_DataType_FLOAT;
    case torch::kUInt8: return onnx::TensorProto_DataType_UINT8;
    case torch::kInt8: return onnx::TensorProto_DataType_INT8;
    case torch::kInt32: return onnx::TensorProto_DataType_INT32;
    case torch::kInt64: return onnx::TensorProto_DataType_INT64;
    default: fail("ONNX export: no initializer type for {}", c10::toString(type));
  }
}

}  // namespace

std::string OnnxGraph::constant(const std::string& name, const torch::Tensor& value) {
  const auto contiguous = value.detach().to(torch::kCPU).contiguous();
  auto* tensor = graph_.add_initializer();
  tensor->set_name(name);
  for (const auto dim : contiguous.sizes()) tensor->add_dims(dim);
  tensor->set_data_type(onnx_type(contiguous.scalar_type()));
  // raw_data is little-endian, as the tensor is in memory on every machine qx builds for.
  tensor->set_raw_data(contiguous.data_ptr(), static_cast<std::size_t>(contiguous.numel() * contiguous.element_size()));
  return name;
}

onnx::NodeProto& OnnxGraph::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                 const std::string& output) {
  auto* node = graph_.add_node();
  node->set_op_type(op_type);
  node->set_name(output);
  for (const auto& input : inputs) node->add_input(input);
  node->add_output(output);
  return *node;
}

void OnnxGraph::attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_INT);
  attribute->set_i(value);
}

void OnnxGraph::attribute(onnx::NodeProto& node, const std::string& name, float value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_FLOAT);
  attribute->set_f(value);
}

void OnnxGraph::attribute(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_STRING);
  attribute->set_s(value);
}

void OnnxGraph::ints(onnx::NodeProto& node, const std::string& name, const std::vector<std::int64_t>& values) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_INTS);
  for (const auto value : values) attribute->add_ints(value);
}

void OnnxGraph::tensor_value(onnx::ValueInfoProto& info, const std::string& name, const std::vector<std::int64_t>& dims) {
  info.set_name(name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = tensor->mutable_shape();
  for (std::size_t i = 0; i < dims.size(); ++i) {
    auto* dim = shape->add_dim();
    if (dims[i] >= 0) {
      dim->set_dim_value(dims[i]);
    } else {
      dim->set_dim_param(i == 0 ? "N" : "d" + std::to_string(i));
    }
  }
}

}  // namespace qx::deploy
