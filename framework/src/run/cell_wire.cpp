#include "qx/run/cell_wire.h"

#include <torch/serialize.h>

#include "qx/core/error.h"

namespace qx::run {

namespace {

constexpr std::int64_t kWireVersion = 2;  // 2: tensors as plain numbers (store::TensorRow)
using Dict = c10::impl::GenericDict;

Dict new_dict() { return Dict(c10::StringType::get(), c10::AnyType::get()); }

c10::IValue numbers(const std::vector<double>& values) { return c10::IValue(c10::List<double>(values)); }
std::vector<double> numbers_from(const c10::IValue& value) { return value.toDoubleList().vec(); }

c10::IValue field(const Dict& dict, const char* key) {
  const auto it = dict.find(key);
  if (it == dict.end()) fail("a cell result from another rank lacks '{}'", key);
  return it->value();
}

Dict encode_tensor(const store::TensorRow& t) {
  auto d = new_dict();
  d.insert("name", t.name);
  d.insert("role", t.role);
  d.insert("bits", t.bits);
  d.insert("range_min", numbers(t.range_min));
  d.insert("range_max", numbers(t.range_max));
  d.insert("scale", numbers(t.scale));
  d.insert("zero_point", numbers(t.zero_point));
  d.insert("qmin", t.qmin);
  d.insert("qmax", t.qmax);
  d.insert("axis", t.axis);
  d.insert("sqnr_db", t.sqnr_db);
  return d;
}

store::TensorRow decode_tensor(const Dict& d) {
  store::TensorRow t;
  t.name = field(d, "name").toStringRef();
  t.role = field(d, "role").toStringRef();
  t.bits = field(d, "bits").toInt();
  t.range_min = numbers_from(field(d, "range_min"));
  t.range_max = numbers_from(field(d, "range_max"));
  t.scale = numbers_from(field(d, "scale"));
  t.zero_point = numbers_from(field(d, "zero_point"));
  t.qmin = field(d, "qmin").toInt();
  t.qmax = field(d, "qmax").toInt();
  t.axis = field(d, "axis").toInt();
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
