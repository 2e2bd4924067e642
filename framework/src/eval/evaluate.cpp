#include "qx/eval/evaluate.h"

#include <fmt/format.h>

#include "qx/core/clock.h"
#include "qx/data/batches.h"

namespace qx::eval {

std::string EvalResult::to_json() const {
  return fmt::format(R"({{"top1": {:.2f}, "top5": {:.2f}, "loss": {:.5f}, "images": {}, "seconds": {:.2f}}})", top1,
                     top5, loss, images, seconds);
}

EvalResult evaluate(QuantizableModel& model, const data::Dataset& dataset, std::int64_t batch_size,
                    const torch::Device& device) {
  const auto start = Clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::int64_t correct1 = 0, correct5 = 0;
  double loss_sum = 0;
  for (std::int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, dataset.size());
    auto images = data::normalize(dataset.images.slice(0, begin, end).to(device));
    auto labels = dataset.labels.slice(0, begin, end).to(device);
    auto logits = model.forward(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    auto top5 = std::get<1>(logits.topk(5, 1));
    auto hits = top5.eq(labels.unsqueeze(1));
    correct1 += hits.select(1, 0).sum().item<std::int64_t>();
    correct5 += hits.any(1).sum().item<std::int64_t>();
  }
  model.train(was_training);
  EvalResult result;
  result.images = dataset.size();
  result.top1 = 100.0 * static_cast<double>(correct1) / static_cast<double>(result.images);
  result.top5 = 100.0 * static_cast<double>(correct5) / static_cast<double>(result.images);
  result.loss = loss_sum / static_cast<double>(result.images);
  result.seconds = seconds_since(start);
  return result;
}

torch::Tensor predict(QuantizableModel& model, const data::Dataset& dataset, std::int64_t batch_size,
                      const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> logits;
  for (std::int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, dataset.size());
    logits.push_back(model.forward(data::normalize(dataset.images.slice(0, begin, end).to(device))).to(torch::kCPU));
  }
  model.train(was_training);
  return torch::cat(logits).to(torch::kFloat32).contiguous();
}

EvalResult score(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const auto targets = labels.to(torch::kCPU, torch::kInt64);
  const auto top5 = std::get<1>(logits.topk(std::min<std::int64_t>(5, logits.size(1)), 1));
  const auto hits = top5.eq(targets.unsqueeze(1));
  EvalResult result;
  result.images = logits.size(0);
  const auto images = static_cast<double>(result.images);
  result.top1 = 100.0 * static_cast<double>(hits.select(1, 0).sum().item<std::int64_t>()) / images;
  result.top5 = 100.0 * static_cast<double>(hits.any(1).sum().item<std::int64_t>()) / images;
  result.loss = torch::nn::functional::cross_entropy(
                    logits.to(torch::kFloat64), targets,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>() /
                images;
  return result;
}

}  // namespace qx::eval
