#include "qx/run/cell_wire.h"

#include <torch/serialize.h>

#include "qx/core/error.h"

namespace qx::run {

namespace {

constexpr std::int64_t kWireVersion = 1;
using Dict = c10::impl::GenericDict;

Dict new_dict() { return Dict(c10::StringType::get(), c10::AnyType::get()); }

c10::IValue tensor_or_none(const torch::Tensor& tensor) {
  return tensor.defined() ? c10::IValue(tensor.detach().to(torch::kCPU)) : c10::IValue();
}
torch::Tensor tensor_from(const c10::IValue& value) { return value.isNone() ? torch::Tensor() : value.toTensor(); }

c10::IValue field(const Dict& dict, const char* key) {
  const auto it = dict.find(key);
  if (it == dict.end()) fail("a cell result from another rank lacks '{}'", key);
  return it->value();
}

Dict encode_tensor(const sim::TensorRecord& t) {
  auto d = new_dict();
  d.insert("name", t.name);
  d.insert("role", static_cast<std::int64_t>(t.role));
  d.insert("bits", static_cast<std::int64_t>(t.bits));
  d.insert("range_min", tensor_or_none(t.range.min));
  d.insert("range_max", tensor_or_none(t.range.max));
  d.insert("scale", tensor_or_none(t.qparams.scale));
  d.insert("zero_point", tensor_or_none(t.qparams.zero_point));
  d.insert("qmin", t.qparams.qmin);
  d.insert("qmax", t.qparams.qmax);
  d.insert("axis", t.qparams.axis);
  d.insert("sqnr_db", t.sqnr_db);
  return d;
}

sim::TensorRecord decode_tensor(const Dict& d) {
  sim::TensorRecord t;
  t.name = field(d, "name").toStringRef();
  t.role = static_cast<quant::TensorRole>(field(d, "role").toInt());
  t.bits = static_cast<int>(field(d, "bits").toInt());
  t.range.min = tensor_from(field(d, "range_min"));
  t.range.max = tensor_from(field(d, "range_max"));
  t.qparams.scale = tensor_from(field(d, "scale"));
  t.qparams.zero_point = tensor_from(field(d, "zero_point"));
  t.qparams.qmin = field(d, "qmin").toInt();
  t.qparams.qmax = field(d, "qmax").toInt();
  t.qparams.axis = field(d, "axis").toInt();
  t.sqnr_db = field(d, "sqnr_db").toDouble();
  return t;
}

Dict encode_pass(const store::PassRecord& p) {
  auto d = new_dict();
  d.insert("name", p.name);
  d.insert("version", p.version);
  d.insert("options", p.options_json);
  d.insert("seconds", p.seconds);
  d.insert("report", p.report);
  return d;
}

store::PassRecord decode_pass(const Dict& d) {
  return {field(d, "name").toStringRef(), field(d, "version").toStringRef(), field(d, "options").toStringRef(),
          field(d, "seconds").toDouble(), field(d, "report").toStringRef()};
}

}  // namespace

std::vector<char> encode_cell_result(std::size_t index, const store::CellResult& r) {
  auto d = new_dict();
  d.insert("format", std::string("qx.cell_result"));
  d.insert("version", kWireVersion);
  d.insert("index", static_cast<std::int64_t>(index));
  d.insert("key", r.key);
  d.insert("error", r.error);
  d.insert("top1", r.top1);
  d.insert("top5", r.top5);
  d.insert("loss", r.loss);
  d.insert("images", r.images);
  d.insert("calib_seconds", r.calib_seconds);
  d.insert("quantize_seconds", r.quantize_seconds);
  d.insert("eval_seconds", r.eval_seconds);
  c10::impl::GenericList passes(c10::AnyType::get());
  for (const auto& p : r.passes) passes.push_back(encode_pass(p));
  d.insert("passes", passes);
  c10::impl::GenericList tensors(c10::AnyType::get());
  for (const auto& t : r.tensors) tensors.push_back(encode_tensor(t));
  d.insert("tensors", tensors);
  return torch::pickle_save(c10::IValue(d));
}

DecodedCell decode_cell_result(const std::vector<char>& bytes) {
  try {
    const auto root = torch::pickle_load(bytes);
    if (!root.isGenericDict()) fail("a message from another rank is not a cell result");
    const auto d = root.toGenericDict();
    if (field(d, "format").toStringRef() != "qx.cell_result" || field(d, "version").toInt() != kWireVersion) {
      fail("a message from another rank is not a version-{} cell result", kWireVersion);
    }
    DecodedCell decoded;
    decoded.index = static_cast<std::size_t>(field(d, "index").toInt());
    auto& r = decoded.result;
    r.key = field(d, "key").toStringRef();
    r.error = field(d, "error").toStringRef();
    r.top1 = field(d, "top1").toDouble();
    r.top5 = field(d, "top5").toDouble();
    r.loss = field(d, "loss").toDouble();
    r.images = field(d, "images").toInt();
    r.calib_seconds = field(d, "calib_seconds").toDouble();
    r.quantize_seconds = field(d, "quantize_seconds").toDouble();
    r.eval_seconds = field(d, "eval_seconds").toDouble();
    for (const auto& p : field(d, "passes").toList()) r.passes.push_back(decode_pass(p.get().toGenericDict()));
    for (const auto& t : field(d, "tensors").toList()) r.tensors.push_back(decode_tensor(t.get().toGenericDict()));
    return decoded;
  } catch (const c10::Error& e) {
    const std::string reason = e.what_without_backtrace();
    fail("a message from another rank is not a readable cell result ({})", reason.substr(0, reason.find('\n')));
  }
}

}  // namespace qx::run
