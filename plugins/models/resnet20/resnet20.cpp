// ResNet20 for CIFAR-10, exactly as He et al. 2016, section 4.2: a 3x3 stem with 16 filters,
// three stages of three basic blocks (16, 32, 64 channels; the first block of stages 2 and 3
// strides by 2), parameter-free option-A shortcuts, global average pooling and a 10-way linear
// layer: 269,722 parameters. The plugin also registers ResNet56 (n=9 blocks per stage), the
// same design deeper, as a distillation teacher.
#include <torch/torch.h>

#include "qx/core/error.h"
#include "qx/nn/model.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

namespace {

using qx::nn::QuantPoint;
using qx::nn::QuantPointOptions;

torch::nn::Conv2d conv3x3(int64_t in_channels, int64_t out_channels, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_channels, out_channels, 3).stride(stride).padding(1).bias(false));
}

struct BasicBlockOptions {
  BasicBlockOptions(int64_t in_channels, int64_t out_channels, int64_t stride)
      : in_channels_(in_channels), out_channels_(out_channels), stride_(stride) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, stride) = 1;
  // Weight layer that reads this block's output, for the output QuantPoint's `feeds`; empty
  // for the last block, whose output is pooled before anything reads it.
  TORCH_ARG(std::string, next_layer) = {};
  // Name of this block's own conv1 ("layer2.0.conv1"), for the `feeds` of its inner point.
  TORCH_ARG(std::string, prefix) = {};
};

// [r]-conv-bn-relu-[q]-conv-bn, plus the shortcut, then add-relu-[q]. The quant point after the
// sum sits behind the ReLU because integer kernels fuse add+relu and store only their output;
// that output is the residual stream, which the next block's shortcut reads as stored. [r] is
// where conv1 may read it at a narrower width (QuantPointOptions::requantizes).
class BasicBlockImpl : public torch::nn::Module {
 public:
  explicit BasicBlockImpl(const BasicBlockOptions& options) : options_(options) {
    in_q = register_module("in_q",
                           QuantPoint(QuantPointOptions().feeds({options.prefix() + ".conv1"}).requantizes(true)));
    conv1 = register_module("conv1", conv3x3(options.in_channels(), options.out_channels(), options.stride()));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(options.out_channels()));
    mid_q = register_module("mid_q", QuantPoint(QuantPointOptions().feeds({options.prefix() + ".conv2"})));
    conv2 = register_module("conv2", conv3x3(options.out_channels(), options.out_channels(), 1));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(options.out_channels()));
    std::vector<std::string> out_feeds;
    if (!options.next_layer().empty()) out_feeds.push_back(options.next_layer());
    out_q = register_module("out_q", QuantPoint(QuantPointOptions().feeds(out_feeds).residual(true)));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto residual = torch::relu(bn1(conv1(in_q(input))));
    residual = bn2(conv2(mid_q(residual)));
    return out_q(torch::relu(residual + shortcut(input)));
  }

  // forward() as graph operations (qx/nn/graph.h), reading `input`; returns what it writes.
  std::string append_graph(std::vector<qx::nn::GraphOp>& graph, const std::string& input) const {
    using Kind = qx::nn::GraphOpKind;
    const auto& p = options_.prefix();
    auto add = [&](Kind kind, std::vector<std::string> inputs, const std::string& output, std::string module = {}) {
      graph.push_back({kind, std::move(inputs), output, std::move(module)});
      return output;
    };
    auto x = add(Kind::kQuantPoint, {input}, p + ".in_q", p + ".in_q");
    x = add(Kind::kConv2d, {x}, p + ".conv1", p + ".conv1");
    x = add(Kind::kBatchNorm2d, {x}, p + ".bn1", p + ".bn1");
    x = add(Kind::kRelu, {x}, p + ".relu1");
    x = add(Kind::kQuantPoint, {x}, p + ".mid_q", p + ".mid_q");
    x = add(Kind::kConv2d, {x}, p + ".conv2", p + ".conv2");
    x = add(Kind::kBatchNorm2d, {x}, p + ".bn2", p + ".bn2");
    std::string shortcut = input;
    if (options_.stride() != 1 || options_.in_channels() != options_.out_channels()) {
      graph.push_back({Kind::kSubsample, {input}, p + ".shortcut.subsample", {}, options_.stride()});
      const int64_t extra = options_.out_channels() - options_.in_channels();
      graph.push_back({Kind::kPadChannels, {p + ".shortcut.subsample"}, p + ".shortcut", {}, 1, extra / 2,
                       extra - extra / 2});
      shortcut = p + ".shortcut";
    }
    x = add(Kind::kAdd, {x, shortcut}, p + ".sum");
    x = add(Kind::kRelu, {x}, p + ".relu2");
    return add(Kind::kQuantPoint, {x}, p + ".out_q", p + ".out_q");
  }

 private:
  // Option A: strided identity, with the new channels zero-padded evenly on both sides.
  torch::Tensor shortcut(const torch::Tensor& input) const {
    if (options_.stride() == 1 && options_.in_channels() == options_.out_channels()) return input;
    using torch::indexing::Slice;
    auto sampled = input.index({Slice(), Slice(), Slice(0, torch::indexing::None, options_.stride()),
                                Slice(0, torch::indexing::None, options_.stride())});
    const int64_t extra = options_.out_channels() - options_.in_channels();
    return torch::constant_pad_nd(sampled, {0, 0, 0, 0, extra / 2, extra - extra / 2});
  }

  BasicBlockOptions options_;

 public:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  QuantPoint in_q{nullptr}, mid_q{nullptr}, out_q{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNetCifarOptions {
  // Fixed at construction.
  TORCH_ARG(int64_t, blocks_per_stage) = 3;  // 3 -> ResNet20, 5 -> 32, 9 -> 56
  TORCH_ARG(int64_t, num_classes) = 10;
};

class ResNetCifarImpl : public qx::QuantizableModel {
 public:
  explicit ResNetCifarImpl(const ResNetCifarOptions& options) {
    const int64_t widths[] = {16, 32, 64};
    input_q = register_module("input_q", QuantPoint(QuantPointOptions().feeds({"conv1"})));
    conv1 = register_module("conv1", conv3x3(3, widths[0], 1));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(widths[0]));
    stem_q = register_module("stem_q", QuantPoint(QuantPointOptions().feeds({"layer1.0.conv1"}).residual(true)));
    pairs_.push_back({"conv1", "bn1"});

    int64_t in_channels = widths[0];
    for (int stage = 0; stage < 3; ++stage) {
      const std::string stage_name = "layer" + std::to_string(stage + 1);
      torch::nn::Sequential blocks;
      for (int64_t block = 0; block < options.blocks_per_stage(); ++block) {
        const std::string prefix = stage_name + "." + std::to_string(block);
        const bool last_block = block + 1 == options.blocks_per_stage();
        const std::string next_layer = !last_block ? stage_name + "." + std::to_string(block + 1) + ".conv1"
                                       : stage < 2 ? "layer" + std::to_string(stage + 2) + ".0.conv1"
                                                   : std::string();
        const int64_t stride = (stage > 0 && block == 0) ? 2 : 1;
        blocks->push_back(BasicBlock(BasicBlockOptions(in_channels, widths[stage], stride)
                                         .prefix(prefix)
                                         .next_layer(next_layer)));
        block_names_.push_back(prefix);
        pairs_.push_back({prefix + ".conv1", prefix + ".bn1"});
        pairs_.push_back({prefix + ".conv2", prefix + ".bn2"});
        in_channels = widths[stage];
      }
      stages_.push_back(register_module(stage_name, blocks));
    }
    pool_q = register_module("pool_q", QuantPoint(QuantPointOptions().feeds({"fc"})));
    fc = register_module("fc", torch::nn::Linear(widths[2], options.num_classes()));
    initialize();
  }

  torch::Tensor forward(torch::Tensor images) override {
    auto x = stem_q(torch::relu(bn1(conv1(input_q(images)))));
    for (auto& stage : stages_) x = stage->forward(x);
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return fc(pool_q(x));
  }

  std::vector<qx::ConvBnPair> conv_bn_pairs() const override { return pairs_; }

  std::vector<qx::nn::GraphOp> graph() const override {
    using Kind = qx::nn::GraphOpKind;
    std::vector<qx::nn::GraphOp> graph{
        {Kind::kQuantPoint, {qx::nn::kGraphInput}, "input_q", "input_q"},
        {Kind::kConv2d, {"input_q"}, "conv1", "conv1"},
        {Kind::kBatchNorm2d, {"conv1"}, "bn1", "bn1"},
        {Kind::kRelu, {"bn1"}, "relu"},
        {Kind::kQuantPoint, {"relu"}, "stem_q", "stem_q"},
    };
    std::string x = "stem_q";
    for (const auto& stage : stages_) {
      for (std::size_t i = 0; i < stage->size(); ++i) x = stage->at<BasicBlockImpl>(i).append_graph(graph, x);
    }
    graph.push_back({Kind::kGlobalAveragePool, {x}, "pool"});
    graph.push_back({Kind::kQuantPoint, {"pool"}, "pool_q", "pool_q"});
    graph.push_back({Kind::kLinear, {"pool_q"}, "fc", "fc"});
    return graph;
  }

  // Only inside a block: conv2's output meets the shortcut in the residual sum, so rescaling its
  // channels (or those of anything feeding a shortcut) would change the function.
  std::vector<qx::EqualizationPair> equalization_pairs() const override {
    std::vector<qx::EqualizationPair> pairs;
    for (const auto& name : block_names_) pairs.push_back({name + ".conv1", name + ".conv2"});
    return pairs;
  }

  std::vector<qx::ModelBlock> blocks() override {
    std::vector<qx::ModelBlock> out;
    out.push_back({"stem", "input_q", {"conv1"}, {"stem_q"},
                   [this](const torch::Tensor& x) { return stem_q(torch::relu(bn1(conv1(x)))); }});
    std::string input = "stem_q";
    for (const auto& [name, block] : named_blocks()) {
      out.push_back({name, input, {name + ".conv1", name + ".conv2"},
                   {name + ".in_q", name + ".mid_q", name + ".out_q"},
                     [impl = block.ptr()](const torch::Tensor& x) { return impl->forward(x); }});
      input = name + ".out_q";
    }
    out.push_back({"head", "pool_q", {"fc"}, {}, [this](const torch::Tensor& x) { return fc(x); }});
    return out;
  }

 private:
  // Kaiming-normal (fan_out, as torchvision) for convolutions; PyTorch defaults elsewhere.
  void initialize() {
    torch::NoGradGuard no_grad;
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      }
    }
  }

  std::vector<std::pair<std::string, BasicBlock>> named_blocks() {
    std::vector<std::pair<std::string, BasicBlock>> out;
    std::size_t next = 0;
    for (auto& stage : stages_) {
      for (std::size_t i = 0; i < stage->size(); ++i) {
        out.emplace_back(block_names_.at(next++), BasicBlock(stage->ptr<BasicBlockImpl>(i)));
      }
    }
    return out;
  }

  std::vector<torch::nn::Sequential> stages_;
  std::vector<std::string> block_names_;  // "layer1.0", ... in execution order
  std::vector<qx::ConvBnPair> pairs_;

 public:
  QuantPoint input_q{nullptr}, stem_q{nullptr}, pool_q{nullptr};
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

std::shared_ptr<qx::QuantizableModel> make_resnet(int64_t blocks_per_stage, const qx::Options& options) {
  const auto classes = options.get_int("num_classes", 10);
  if (classes < 2) qx::fail("{}: num_classes must be >= 2, got {}", options.owner(), classes);
  return std::make_shared<ResNetCifarImpl>(
      ResNetCifarOptions().blocks_per_stage(blocks_per_stage).num_classes(classes));
}

}  // namespace

QX_PLUGIN(model, resnet20, "1.3.0", registrar) {
  registrar.add_model("resnet20", [](const qx::Options& options) { return make_resnet(3, options); });
  registrar.add_model("resnet56", [](const qx::Options& options) { return make_resnet(9, options); });
}
