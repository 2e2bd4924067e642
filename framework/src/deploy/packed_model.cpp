#include "qx/deploy/packed_model.h"

#include <cstring>
#include <set>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "qx/core/error.h"
#include "qx/nn/fold.h"
#include "qx/sim/quant_sim.h"

namespace qx::deploy {

namespace {

constexpr char kMagic[4] = {'Q', 'X', 'P', 'K'};
constexpr std::uint32_t kFormatVersion = 1;

// Unsigned codes of `bits` bits each, little-endian bit order, into bytes.
std::vector<std::uint8_t> pack_bits(const torch::Tensor& codes, int bits) {
  const auto values = codes.to(torch::kInt64).contiguous();
  const auto* data = values.data_ptr<std::int64_t>();
  std::vector<std::uint8_t> out(static_cast<std::size_t>((values.numel() * bits + 7) / 8), 0);
  std::int64_t bit = 0;
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    for (int b = 0; b < bits; ++b, ++bit) {
      if ((data[i] >> b) & 1) out[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(1u << (bit % 8));
    }
  }
  return out;
}

torch::Tensor unpack_bits(const std::uint8_t* bytes, std::int64_t count, int bits) {
  auto values = torch::zeros({count}, torch::kInt64);
  auto* data = values.data_ptr<std::int64_t>();
  std::int64_t bit = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    for (int b = 0; b < bits; ++b, ++bit) {
      if ((bytes[bit / 8] >> (bit % 8)) & 1) data[i] |= std::int64_t{1} << b;
    }
  }
  return values;
}

class Writer {
 public:
  std::int64_t add(const void* data, std::size_t size) {
    const auto offset = static_cast<std::int64_t>(payload_.size());
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    payload_.insert(payload_.end(), bytes, bytes + size);
    return offset;
  }
  std::int64_t add(const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    return add(c.data_ptr(), static_cast<std::size_t>(c.numel() * c.element_size()));
  }
  const std::vector<std::uint8_t>& payload() const { return payload_; }

 private:
  std::vector<std::uint8_t> payload_;
};

toml::array shape_of(const torch::Tensor& t) {
  toml::array shape;
  for (auto d : t.sizes()) shape.push_back(d);
  return shape;
}

}  // namespace

PackResult pack_model(const train::Checkpoint& checkpoint, const PluginHost& host, const std::string& quantizer,
                      int bits, const std::filesystem::path& out) {
  auto model = host.create_model(checkpoint.model, train::options_from_checkpoint(checkpoint));
  train::load_model_state(*model, checkpoint.state_dict, "checkpoint");
  model->eval();
  std::unique_ptr<sim::QuantSim> sim;
  if (bits == 32) {
    fold_batch_norms(*model);
  } else {
    spec::CellSpec cell;
    // Weights only: the default weight statistics, which see each weight whole.
    const std::string observer = spec::kDefaultWeightObserver;
    cell.observer = cell.weight_observer = {observer, Options("observer '" + observer + "'")};
    cell.quantizer = {quantizer, Options("quantizer '" + quantizer + "'")};
    cell.weight_bits = cell.activation_bits = bits;
    sim = std::make_unique<sim::QuantSim>(*model, host, cell);  // folds BatchNorm
    if (!sim->quantizer().integer_grid()) fail("qx pack: quantizer '{}' has no integer grid to pack", quantizer);
    sim->quantize_weights();
  }
  std::map<std::string, const sim::WeightSite*> quantized;
  if (sim) {
    for (const auto& site : sim->weight_sites()) quantized[site.name + ".weight"] = &site;
  }
  const std::set<std::string> weights = [&] {
    std::set<std::string> names;
    for (const auto& layer : weight_layers(*model)) names.insert(layer.name + ".weight");
    return names;
  }();

  Writer writer;
  toml::array tensors;
  PackResult result;
  for (const auto& item : model->named_parameters()) {
    const auto& name = item.key();
    const auto& value = item.value();
    // A folded BatchNorm is "add its bias": its scale (all ones) carries no information.
    if (!weights.count(name) && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) continue;
    toml::table entry{{"name", name}, {"shape", shape_of(value)}};
    if (auto it = quantized.find(name); it != quantized.end()) {
      const auto& q = it->second->qparams;
      std::vector<std::int64_t> shape(static_cast<std::size_t>(value.dim()), 1);
      if (q.axis >= 0) shape[static_cast<std::size_t>(q.axis)] = -1;
      const auto scale = q.scale.reshape(shape), zero_point = q.zero_point.reshape(shape);
      const auto codes = torch::round(value.detach() / scale) + zero_point - q.qmin;
      const auto packed = pack_bits(codes, it->second->spec.bits);
      entry.insert("bits", it->second->spec.bits);
      entry.insert("axis", q.axis);
      entry.insert("qmin", q.qmin);
      entry.insert("offset", writer.add(packed.data(), packed.size()));
      entry.insert("length", static_cast<std::int64_t>(packed.size()));
      entry.insert("scale_offset", writer.add(q.scale.to(torch::kFloat32)));
      entry.insert("zero_point_offset", writer.add(q.zero_point.to(torch::kInt32)));
      entry.insert("channels", q.scale.numel());
      result.weight_bytes += static_cast<std::int64_t>(packed.size());
      result.parameters += value.numel();
    } else {
      entry.insert("bits", 32);
      entry.insert("offset", writer.add(value.to(torch::kFloat32)));
      if (weights.count(name)) result.weight_bytes += value.numel() * 4, result.parameters += value.numel();
    }
    tensors.push_back(std::move(entry));
  }
  toml::table header{{"model", checkpoint.model}, {"tensor", std::move(tensors)}};
  std::ostringstream text;
  text << header;
  const auto header_text = text.str();

  std::ofstream file(out, std::ios::binary);
  const std::uint64_t header_length = header_text.size();
  file.write(kMagic, 4);
  file.write(reinterpret_cast<const char*>(&kFormatVersion), sizeof kFormatVersion);
  file.write(reinterpret_cast<const char*>(&header_length), sizeof header_length);
  file << header_text;
  file.write(reinterpret_cast<const char*>(writer.payload().data()), static_cast<std::streamsize>(writer.payload().size()));
  file.close();
  if (!file) fail("cannot write {}", out.string());
  result.bytes = std::filesystem::file_size(out);
  return result;
}

std::map<std::string, torch::Tensor> unpack_model(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("cannot read {}", path.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::size_t prefix = 4 + sizeof(std::uint32_t) + sizeof(std::uint64_t);
  if (bytes.size() < prefix || std::memcmp(bytes.data(), kMagic, 4) != 0) fail("{}: not a qx packed model", path.string());
  std::uint32_t version = 0;
  std::uint64_t header_length = 0;
  std::memcpy(&version, bytes.data() + 4, sizeof version);
  std::memcpy(&header_length, bytes.data() + 8, sizeof header_length);
  if (version != kFormatVersion) fail("{}: packed format {}, this qx reads {}", path.string(), version, kFormatVersion);
  if (bytes.size() < prefix + header_length) fail("{}: truncated header", path.string());
  const auto header = toml::parse(std::string_view(bytes.data() + prefix, header_length));
  const auto* payload = reinterpret_cast<const std::uint8_t*>(bytes.data() + prefix + header_length);
  const auto payload_size = static_cast<std::int64_t>(bytes.size() - prefix - header_length);
  std::map<std::string, torch::Tensor> out;
  for (const auto& node : *header["tensor"].as_array()) {
    const auto& entry = *node.as_table();
    std::vector<std::int64_t> shape;
    for (const auto& d : *entry["shape"].as_array()) shape.push_back(d.value<std::int64_t>().value());
    const auto numel = c10::multiply_integers(shape);
    const auto bits = entry["bits"].value<std::int64_t>().value();
    const auto offset = entry["offset"].value<std::int64_t>().value();
    auto check = [&](std::int64_t at, std::int64_t size) {
      if (at < 0 || at + size > payload_size) fail("{}: truncated payload", path.string());
    };
    if (bits == 32) {
      check(offset, numel * 4);
      out[entry["name"].value<std::string>().value()] =
          torch::from_blob(const_cast<std::uint8_t*>(payload + offset), shape, torch::kFloat32).clone();
      continue;
    }
    const auto channels = entry["channels"].value<std::int64_t>().value();
    const auto axis = entry["axis"].value<std::int64_t>().value();
    const auto qmin = entry["qmin"].value<std::int64_t>().value();
    check(offset, entry["length"].value<std::int64_t>().value());
    const auto scale_at = entry["scale_offset"].value<std::int64_t>().value();
    const auto zero_at = entry["zero_point_offset"].value<std::int64_t>().value();
    check(scale_at, channels * 4);
    check(zero_at, channels * 4);
    std::vector<std::int64_t> broadcast(shape.size(), 1);
    if (axis >= 0) broadcast[static_cast<std::size_t>(axis)] = -1;
    const auto scale = torch::from_blob(const_cast<std::uint8_t*>(payload + scale_at), {channels}, torch::kFloat32)
                           .clone()
                           .reshape(axis >= 0 ? broadcast : std::vector<std::int64_t>{});
    const auto zero_point = torch::from_blob(const_cast<std::uint8_t*>(payload + zero_at), {channels}, torch::kInt32)
                                .to(torch::kFloat32)
                                .reshape(axis >= 0 ? broadcast : std::vector<std::int64_t>{});
    const auto codes = unpack_bits(payload + offset, numel, static_cast<int>(bits)).to(torch::kFloat32).reshape(shape);
    out[entry["name"].value<std::string>().value()] = (codes + static_cast<double>(qmin) - zero_point) * scale;
  }
  return out;
}

}  // namespace qx::deploy
