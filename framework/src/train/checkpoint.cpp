#include "qx/train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include "qx/core/error.h"
#include "qx/train/pickle_scan.h"

namespace qx::train {
namespace fs = std::filesystem;

namespace {

c10::impl::GenericDict tensor_dict(const std::map<std::string, torch::Tensor>& tensors) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().cpu().contiguous());
  return dict;
}

std::map<std::string, torch::Tensor> tensor_map(const c10::IValue& value, const std::string& what) {
  if (!value.isGenericDict()) fail("{} is not a dictionary of tensors", what);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) fail("{} is not a dictionary of tensors", what);
    tensors.emplace(item.key().toStringRef(), item.value().toTensor());
  }
  return tensors;
}

// torch::pickle_load() without its reader's bug. LibTorch 1.13's VectorReader copies whatever
// range the zip reader asks for, and a corrupt file's offsets ask for bytes past the end of the
// buffer: a heap overflow, found by fuzzing (tests/fuzz/fuzz_checkpoint.cpp; the input is in
// tests/fuzz/regressions/checkpoint/). This reader hands out only the bytes there are; the zip
// reader then reports the file as corrupt.
class BoundedReader : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedReader(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// Returns an empty IValue and sets `refused` when the pickle declares a length it does not hold.
c10::IValue unpickle(const std::vector<char>& bytes, std::string& refused) {
  // The archive layout torch::pickle_save() writes and torch.load() reads: data.pkl, data/<n>.
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedReader>(bytes));
  if (reader.hasRecord("data.pkl")) {
    const auto [pickle, size] = reader.getRecord("data.pkl");
    refused = check_pickle_lengths(std::string_view(static_cast<const char*>(pickle.get()), size));
    if (!refused.empty()) return {};
  }
  return torch::jit::readArchiveAndTensors("data", "", "", c10::nullopt, c10::nullopt, c10::nullopt, reader);
}

c10::IValue field(const c10::impl::GenericDict& dict, const std::string& key, const std::string& file) {
  auto it = dict.find(key);
  if (it == dict.end()) fail("checkpoint {}: missing field '{}'", file, key);
  return it->value();
}

}  // namespace

static Checkpoint checkpoint_from_ivalue(const c10::IValue& root, const std::string& file);

void save_checkpoint(const Checkpoint& checkpoint, const fs::path& path) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", std::string("qx.checkpoint"));
  dict.insert("format_version", kCheckpointFormatVersion);
  dict.insert("model", checkpoint.model);
  c10::impl::GenericDict options(c10::StringType::get(), c10::AnyType::get());
  for (const auto& option : checkpoint.model_options) {
    // (a structured binding cannot be captured by a lambda in C++17)
    std::visit([&](const auto& v) { options.insert(option.first, c10::IValue(v)); }, option.second);
  }
  dict.insert("model_options", options);
  dict.insert("state_dict", tensor_dict(checkpoint.state_dict));
  dict.insert("optimizer", tensor_dict(checkpoint.optimizer));
  dict.insert("epoch", checkpoint.epoch);
  dict.insert("seed", checkpoint.seed);
  dict.insert("run_uid", checkpoint.run_uid);
  dict.insert("config", checkpoint.config);
  dict.insert("history", checkpoint.history.defined() ? checkpoint.history : torch::empty({0, 10}, torch::kFloat64));
  dict.insert("train_state", tensor_dict(checkpoint.train_state));
  dict.insert("swa_count", checkpoint.swa_count);

  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path temporary = path.string() + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail("cannot write checkpoint {}", temporary.string());
  }
  fs::rename(temporary, path);
}

Checkpoint load_checkpoint(const fs::path& path) {
  const std::string file = path.string();
  std::error_code error;
  if (!fs::is_regular_file(path, error)) fail("checkpoint {}: no such file", file);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("checkpoint {}: cannot be opened", file);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return checkpoint_from_bytes(bytes, file);
}

Checkpoint checkpoint_from_bytes(const std::vector<char>& bytes, const std::string& file) {
  c10::IValue root;
  std::string refused;
  try {
    root = unpickle(bytes, refused);
  } catch (const std::exception& e) {
    const std::string reason = e.what();
    fail("checkpoint {}: not a readable checkpoint ({})", file, reason.substr(0, reason.find('\n')));
  }
  if (!refused.empty()) fail("checkpoint {}: not a readable checkpoint ({})", file, refused);
  try {
    return checkpoint_from_ivalue(root, file);
  } catch (const c10::Error& e) {
    // A field of the wrong type; c10 messages span several lines.
    const std::string reason = e.what_without_backtrace();
    fail("checkpoint {}: malformed ({})", file, reason.substr(0, reason.find('\n')));
  }
}

static Checkpoint checkpoint_from_ivalue(const c10::IValue& root, const std::string& file) {
  if (!root.isGenericDict()) fail("checkpoint {}: not a qx checkpoint (top level is not a dictionary)", file);
  const auto dict = root.toGenericDict();
  const auto format = field(dict, "format", file);
  if (!format.isString() || format.toStringRef() != "qx.checkpoint") fail("checkpoint {}: not a qx checkpoint", file);
  const auto version = field(dict, "format_version", file).toInt();
  // Version 1 is version 2 without the SWA fields.
  if (version < 1 || version > kCheckpointFormatVersion) {
    fail("checkpoint {}: format version {}, this qx reads versions 1 to {}", file, version, kCheckpointFormatVersion);
  }
  Checkpoint checkpoint;
  checkpoint.model = field(dict, "model", file).toStringRef();
  for (const auto& item : field(dict, "model_options", file).toGenericDict()) {
    const auto& value = item.value();
    Options::Value converted;
    if (value.isBool()) converted = value.toBool();
    else if (value.isInt()) converted = value.toInt();
    else if (value.isDouble()) converted = value.toDouble();
    else converted = value.toStringRef();
    checkpoint.model_options.emplace(item.key().toStringRef(), converted);
  }
  checkpoint.state_dict = tensor_map(field(dict, "state_dict", file), "checkpoint " + file + ": state_dict");
  checkpoint.optimizer = tensor_map(field(dict, "optimizer", file), "checkpoint " + file + ": optimizer");
  checkpoint.epoch = field(dict, "epoch", file).toInt();
  checkpoint.seed = field(dict, "seed", file).toInt();
  checkpoint.run_uid = field(dict, "run_uid", file).toStringRef();
  checkpoint.config = field(dict, "config", file).toStringRef();
  checkpoint.history = field(dict, "history", file).toTensor();
  if (version >= 2) {
    checkpoint.train_state = tensor_map(field(dict, "train_state", file), "checkpoint " + file + ": train_state");
    checkpoint.swa_count = field(dict, "swa_count", file).toInt();
  }
  return checkpoint;
}

std::map<std::string, torch::Tensor> model_state(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : model.named_parameters()) state.emplace(item.key(), item.value().detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true));
  for (const auto& item : model.named_buffers()) state.emplace(item.key(), item.value().detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true));
  return state;
}

void load_model_state(torch::nn::Module& model, const std::map<std::string, torch::Tensor>& state,
                      const std::string& source) {
  torch::NoGradGuard no_grad;
  std::size_t matched = 0;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    auto it = state.find(name);
    if (it == state.end()) fail("{}: missing tensor '{}'", source, name);
    if (!it->second.sizes().equals(target.sizes())) {
      fail("{}: tensor '{}' has shape {}, the model expects {}", source, name, c10::str(it->second.sizes()),
           c10::str(target.sizes()));
    }
    target.copy_(it->second);
    ++matched;
  };
  for (auto& item : model.named_parameters()) assign(item.key(), item.value());
  for (auto& item : model.named_buffers()) assign(item.key(), item.value());
  if (matched != state.size()) {
    std::string first_unknown;
    const auto expected = model_state(model);
    for (const auto& [name, tensor] : state) {
      if (!expected.count(name)) {
        first_unknown = name;
        break;
      }
    }
    fail("{}: holds {} tensors the model does not have, '{}' first: it was trained as another architecture", source,
         state.size() - matched, first_unknown);
  }
}

Options options_from_checkpoint(const Checkpoint& checkpoint) {
  Options options("model '" + checkpoint.model + "'");
  for (const auto& [key, value] : checkpoint.model_options) options.set(key, value, "checkpoint");
  return options;
}

}  // namespace qx::train
