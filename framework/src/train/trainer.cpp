#include "qx/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <chrono>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "qx/core/clock.h"
#include "qx/core/error.h"
#include "qx/data/batches.h"
#include "qx/eval/evaluate.h"
#include "qx/train/schedule.h"

namespace qx::train {

namespace {

constexpr std::int64_t kCropPadding = 4;
constexpr std::int64_t kHistoryColumns = 10;


std::vector<std::pair<std::string, torch::Tensor>> named_parameters(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> parameters;
  for (auto& item : model.named_parameters()) parameters.emplace_back(item.key(), item.value());
  return parameters;
}

// The whole random state of an epoch: data order and augmentation both come from here.
torch::Generator epoch_generator(std::int64_t seed, std::int64_t epoch) {
  return at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(seed) * 1000003ULL +
                                                  static_cast<std::uint64_t>(epoch));
}

// The augmentation of an SWA epoch's BatchNorm pass: a stream apart from every training epoch's.
torch::Generator batchnorm_pass_generator(std::int64_t seed, std::int64_t epoch) {
  constexpr std::int64_t kStreamOffset = 500000;
  return epoch_generator(seed, kStreamOffset + epoch);
}

torch::Tensor history_tensor(const std::vector<spec::EpochRecord>& history) {
  auto table = torch::empty({static_cast<std::int64_t>(history.size()), kHistoryColumns}, torch::kFloat64);
  auto rows = table.accessor<double, 2>();
  for (std::size_t i = 0; i < history.size(); ++i) {
    const auto& e = history[i];
    const double values[kHistoryColumns] = {static_cast<double>(e.epoch), e.train_loss, e.train_top1, e.test_loss,
                                            e.test_top1, e.test_top5, e.lr, e.seconds, e.data_seconds,
                                            e.images_per_second};
    for (std::int64_t c = 0; c < kHistoryColumns; ++c) rows[static_cast<std::int64_t>(i)][c] = values[c];
  }
  return table;
}

std::vector<spec::EpochRecord> history_from_tensor(const torch::Tensor& table) {
  std::vector<spec::EpochRecord> history;
  if (!table.defined() || table.dim() != 2 || table.size(1) != kHistoryColumns) return history;
  const auto values = table.to(torch::kFloat64).contiguous();
  auto rows = values.accessor<double, 2>();
  for (std::int64_t i = 0; i < table.size(0); ++i) {
    spec::EpochRecord e;
    e.epoch = static_cast<std::int64_t>(rows[i][0]);
    e.train_loss = rows[i][1], e.train_top1 = rows[i][2], e.test_loss = rows[i][3], e.test_top1 = rows[i][4];
    e.test_top5 = rows[i][5], e.lr = rows[i][6], e.seconds = rows[i][7], e.data_seconds = rows[i][8];
    e.images_per_second = rows[i][9];
    history.push_back(e);
  }
  return history;
}

}  // namespace

void to_channels_last(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : model.parameters()) {
    if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

std::string new_run_uid() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

Trainer::Trainer(const config::TrainConfig& config, std::shared_ptr<QuantizableModel> model,
                 const data::Dataset& train_set, const data::Dataset& test_set, TrainerOptions options)
    : config_(config),
      model_(std::move(model)),
      train_set_(train_set),
      test_set_(test_set),
      options_(std::move(options)),
      optimizer_(named_parameters(*model_), SgdOptions()
                                                .lr(config.optimizer.lr)
                                                .momentum(config.optimizer.momentum)
                                                .nesterov(config.optimizer.nesterov)
                                                .weight_decay(config.optimizer.weight_decay)),
      run_uid_(new_run_uid()) {
  model_->to(options_.device());
  if (config_.channels_last) to_channels_last(*model_);
  // A GPU would otherwise wait on a host-side gather and a copy every step; the random draws
  // stay on the CPU generator, so batches are the same on every device.
  train_set_.images = train_set_.images.to(options_.device());
  train_set_.labels = train_set_.labels.to(options_.device());
}

void Trainer::resume(const Checkpoint& checkpoint) {
  check_resumable(checkpoint);
  if (checkpoint.model != config_.model.plugin) {
    fail("cannot resume: checkpoint holds model '{}', the recipe asks for '{}'", checkpoint.model, config_.model.plugin);
  }
  if (checkpoint.optimizer.empty() && config_.optimizer.momentum != 0.0 && checkpoint.epoch > 0) {
    fail("cannot resume: the checkpoint has no optimizer state (an exported checkpoint); resume from the run's own");
  }
  if (is_swa_epoch(checkpoint.epoch)) {
    if (checkpoint.train_state.empty()) fail("cannot resume an SWA phase: the checkpoint has no train_state");
    load_model_state(*model_, checkpoint.train_state, "checkpoint train_state");
    std::map<std::string, torch::Tensor> averaged_parameters;
    for (const auto& item : model_->named_parameters()) {
      auto it = checkpoint.state_dict.find(item.key());
      if (it == checkpoint.state_dict.end()) fail("checkpoint: the weight average lacks '{}'", item.key());
      averaged_parameters.emplace(item.key(), it->second);
    }
    swa_average_ = WeightAverage(std::move(averaged_parameters), checkpoint.swa_count);
    swa_model_ = checkpoint.state_dict;
  } else {
    load_model_state(*model_, checkpoint.state_dict, "checkpoint");
  }
  optimizer_.load_state(checkpoint.optimizer);
  epoch_ = checkpoint.epoch;
  run_uid_ = checkpoint.run_uid;
  history_ = history_from_tensor(checkpoint.history);
  history_.resize(std::min<std::size_t>(history_.size(), static_cast<std::size_t>(epoch_)));
}

// The recipe text may differ from the checkpoint's where it cannot change what was trained:
// comments, threads, paths, or an SWA phase appended to a finished schedule.
void Trainer::check_resumable(const Checkpoint& checkpoint) const {
  if (checkpoint.config == config_.source_text) return;
  const auto refuse = [&](const std::string& what) {
    fail("cannot resume: {} differs from the recipe the checkpoint was trained with ({})", config_.source_path, what);
  };
  config::TrainConfig trained;
  try {
    trained = config::load_train_config_text(checkpoint.config, "the checkpoint's recipe");
  } catch (const Error&) {
    refuse("the checkpoint's recipe is not a readable experiment file");
  }
  if (config::schedule_fingerprint(trained) != config::schedule_fingerprint(config_)) {
    refuse("model, data, optimizer, schedule or seed");
  }
  if (checkpoint.epoch > trained.epochs && config::swa_fingerprint(trained) != config::swa_fingerprint(config_)) {
    refuse("the [swa] phase it is in the middle of");
  }
}

void Trainer::run(const std::function<void(const spec::EpochRecord&)>& on_epoch) {
  const std::int64_t total = config_.total_epochs();
  const std::int64_t last = options_.stop_after() > 0 ? std::min(options_.stop_after(), total) : total;
  while (epoch_ < last) {
    const auto record = run_epoch();
    if (on_epoch) on_epoch(record);
  }
}

spec::EpochRecord Trainer::run_epoch() {
  const std::int64_t epoch = epoch_ + 1;
  spec::EpochRecord record = train_epoch(epoch);
  history_.push_back(record);
  epoch_ = epoch;
  save();
  spdlog::info("epoch {:>3}/{}{}  loss {:.4f}  train {:5.2f}%  test {:5.2f}%  lr {:.5f}  {:6.1f}s  {:5.0f} img/s  "
               "(data {:.1f}%)",
               epoch, config_.total_epochs(),
               is_swa_epoch(epoch_) ? fmt::format(" (swa average of {})", swa_average_.count()) : std::string(),
               record.train_loss, record.train_top1, record.test_top1, record.lr,
               record.seconds, record.images_per_second, 100.0 * record.data_seconds / record.seconds);
  return record;
}

spec::EpochRecord Trainer::train_epoch(std::int64_t epoch) {
  const auto start = Clock::now();
  const auto device = options_.device();
  const std::int64_t size = train_set_.size();
  const std::int64_t batch_size = config_.batch_size;
  const std::int64_t iterations = (size + batch_size - 1) / batch_size;
  const LrSchedule schedule(config_.schedule, config_.optimizer.lr, config_.epochs, iterations);

  torch::Generator generator = epoch_generator(config_.seed, epoch);
  const auto order = torch::randperm(size, generator, torch::kInt64);
  model_->train();

  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  double data_seconds = 0, lr = 0;
  for (std::int64_t i = 0; i < iterations; ++i) {
    const auto data_start = Clock::now();
    const auto indices = order.slice(0, i * batch_size, std::min((i + 1) * batch_size, size)).to(device);
    auto images = train_set_.images.index_select(0, indices);
    if (config_.augment) images = data::random_crop_flip(images, kCropPadding, generator);
    images = data::normalize(images);
    if (config_.channels_last) images = images.contiguous(torch::MemoryFormat::ChannelsLast);
    const auto labels = train_set_.labels.index_select(0, indices);
    data_seconds += seconds_since(data_start);

    lr = is_swa_epoch(epoch) ? config_.swa.lr : schedule.at((epoch - 1) * iterations + i);
    optimizer_.options().lr(lr);
    optimizer_.zero_grad();
    const auto logits = model_->forward(images);
    const auto loss = torch::nn::functional::cross_entropy(logits, labels);
    loss.backward();
    optimizer_.step();

    torch::NoGradGuard no_grad;
    loss_sum += loss.detach().to(torch::kFloat64) * labels.size(0);
    correct += logits.argmax(1).eq(labels).sum();
  }
  const double train_seconds = seconds_since(start);
  const double train_loss = loss_sum.item<double>() / static_cast<double>(size);
  if (!std::isfinite(train_loss)) fail("training diverged in epoch {}: mean loss is {}", epoch, train_loss);

  // The test figure of an SWA epoch is the averaged model's: the model the checkpoint ships.
  eval::EvalResult test;
  if (is_swa_epoch(epoch)) {
    const auto iterate = model_state(*model_);
    install_weight_average(epoch);
    swa_model_ = model_state(*model_);
    test = eval::evaluate(*model_, test_set_, config_.eval_batch_size, device);
    load_model_state(*model_, iterate, "SGD iterate");
  } else {
    test = eval::evaluate(*model_, test_set_, config_.eval_batch_size, device);
  }
  spec::EpochRecord record;
  record.epoch = epoch;
  record.train_loss = train_loss;
  record.train_top1 = 100.0 * static_cast<double>(correct.item<std::int64_t>()) / static_cast<double>(size);
  record.test_loss = test.loss;
  record.test_top1 = test.top1;
  record.test_top5 = test.top5;
  record.lr = lr;
  record.seconds = seconds_since(start);
  record.data_seconds = data_seconds;
  record.images_per_second = static_cast<double>(size) / train_seconds;
  return record;
}

void Trainer::install_weight_average(std::int64_t epoch) {
  swa_average_.add(*model_);
  swa_average_.copy_to(*model_);
  torch::Generator generator = batchnorm_pass_generator(config_.seed, epoch);
  recompute_batchnorm_statistics(*model_, train_set_.images, config_.batch_size, [&](const torch::Tensor& batch) {
    auto images = config_.augment ? data::random_crop_flip(batch, kCropPadding, generator) : batch;
    images = data::normalize(images);
    return config_.channels_last ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  });
}

void Trainer::save() {
  Checkpoint checkpoint;
  checkpoint.model = config_.model.plugin;
  checkpoint.model_options = config_.model.options.values();
  if (is_swa_epoch(epoch_)) {
    checkpoint.state_dict = swa_model_;
    checkpoint.train_state = model_state(*model_);
    checkpoint.swa_count = swa_average_.count();
  } else {
    checkpoint.state_dict = model_state(*model_);
  }
  checkpoint.optimizer = optimizer_.state();
  checkpoint.epoch = epoch_;
  checkpoint.seed = config_.seed;
  checkpoint.run_uid = run_uid_;
  checkpoint.config = config_.source_text;
  checkpoint.history = history_tensor(history_);
  save_checkpoint(checkpoint, checkpoint_path());

  const auto partial = history_path().string() + ".partial";
  {
    std::ofstream csv(partial);
    csv << "epoch,train_loss,train_top1,test_loss,test_top1,test_top5,lr,seconds,data_seconds,images_per_second\n";
    for (const auto& e : history_) {
      csv << fmt::format("{},{:.6f},{:.4f},{:.6f},{:.2f},{:.2f},{:.8f},{:.3f},{:.3f},{:.1f}\n", e.epoch, e.train_loss,
                         e.train_top1, e.test_loss, e.test_top1, e.test_top5, e.lr, e.seconds, e.data_seconds,
                         e.images_per_second);
    }
  }
  std::filesystem::rename(partial, history_path());
}

}  // namespace qx::train
