// The CIFAR-10 loader's validation, the batch augmentation and the fetcher's failure modes.
#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/data/batches.h"
#include "qx/data/cifar10.h"
#include "qx/data/digest.h"
#include "qx/data/fetch.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kRecords = 20;

std::string load_error(const std::filesystem::path& dir, data::Split split) {
  try {
    data::load_cifar10(dir, split, kRecords);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Cifar10, LoadsRecordsInFileOrder) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  const auto train = data::load_cifar10(dir.path(), data::Split::kTrain, kRecords);
  ASSERT_EQ(train.size(), 5 * kRecords);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{5 * kRecords, 3, 32, 32}));
  EXPECT_EQ(train.images.dtype(), torch::kUInt8);
  EXPECT_EQ(train.labels[13].item<int64_t>(), 3);
  // Record 1, pixel byte b (1-based in the record) holds (1*7 + b) % 251: red plane first.
  EXPECT_EQ(train.images[1][0][0][0].item<int>(), (7 + 1) % 251);
  EXPECT_EQ(train.images[1][1][0][0].item<int>(), (7 + 1 + 1024) % 251);
  const auto test = data::load_cifar10(dir.path(), data::Split::kTest, kRecords);
  EXPECT_EQ(test.size(), kRecords);
}

TEST(Cifar10, MissingDirectory) {
  EXPECT_THAT(load_error("/nonexistent/cifar", data::Split::kTest), HasSubstr("does not exist"));
}

TEST(Cifar10, MissingFile) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  std::filesystem::remove(dir / "data_batch_4.bin");
  EXPECT_THAT(load_error(dir.path(), data::Split::kTrain), HasSubstr("data_batch_4.bin is missing"));
}

TEST(Cifar10, TruncatedFile) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  std::filesystem::resize_file(dir / "test_batch.bin", kRecords * data::kCifarRecordBytes - 100);
  const auto error = load_error(dir.path(), data::Split::kTest);
  EXPECT_THAT(error, HasSubstr("test_batch.bin has 61360 bytes, expected 61460"));
  EXPECT_THAT(error, HasSubstr("truncated"));
}

TEST(Cifar10, BadLabel) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  write_cifar_file(dir / "data_batch_2.bin", kRecords, /*bad_label_at=*/7);
  EXPECT_THAT(load_error(dir.path(), data::Split::kTrain),
              HasSubstr("data_batch_2.bin: record 7 has label 10, expected 0-9"));
}

TEST(Batches, NormalizeUsesChannelStatistics) {
  auto images = torch::full({1, 3, 2, 2}, 255, torch::kUInt8);
  const data::Normalization stats;
  auto out = data::normalize(images, stats);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(out[0][c][0][0].item<double>(), (1.0 - stats.mean[c]) / stats.std[c], 1e-5);
  }
}

// Each output must be a 32x32 window of the zero-padded input, possibly mirrored.
TEST(Batches, CropFlipTakesWindowsOfThePaddedImage) {
  auto images = torch::randint(1, 256, {16, 3, 32, 32}, torch::kUInt8);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  auto out = data::random_crop_flip(images, 4, generator);
  ASSERT_EQ(out.sizes(), images.sizes());
  auto padded = torch::constant_pad_nd(images, {4, 4, 4, 4}, 0);
  int flipped = 0;
  for (int64_t i = 0; i < images.size(0); ++i) {
    bool found = false;
    for (int64_t top = 0; top <= 8 && !found; ++top) {
      for (int64_t left = 0; left <= 8 && !found; ++left) {
        auto window = padded[i].slice(1, top, top + 32).slice(2, left, left + 32);
        if (torch::equal(window, out[i])) found = true;
        if (torch::equal(window.flip({2}), out[i])) found = true, ++flipped;
      }
    }
    EXPECT_TRUE(found) << "image " << i << " is not a crop of its padded input";
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 16);
}

TEST(Batches, CropFlipIsDeterministicPerSeed) {
  auto images = torch::randint(0, 256, {8, 3, 32, 32}, torch::kUInt8);
  auto a = at::make_generator<at::CPUGeneratorImpl>(11);
  auto b = at::make_generator<at::CPUGeneratorImpl>(11);
  EXPECT_TRUE(tensors_equal(data::random_crop_flip(images, 4, a), data::random_crop_flip(images, 4, b)));
}

// Every mixed image is the stated convex combination of itself and its partner, the partners a
// permutation of the batch, and the same seed mixes the same way.
TEST(Batches, MixupMixesEachImageWithItsPartnerByItsWeight) {
  const auto images = torch::randn({32, 3, 8, 8});
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto mixed = data::mixup(images, 1.0, generator);
  ASSERT_EQ(mixed.images.sizes(), images.sizes());
  EXPECT_TRUE(torch::equal(std::get<0>(mixed.partner.sort()), torch::arange(32, torch::kInt64)));
  EXPECT_GE(mixed.lambda.min().item<float>(), 0.0f);
  EXPECT_LE(mixed.lambda.max().item<float>(), 1.0f);
  for (int64_t i = 0; i < 32; ++i) {
    const float weight = mixed.lambda[i].item<float>();
    const auto expected = weight * images[i] + (1 - weight) * images[mixed.partner[i].item<int64_t>()];
    EXPECT_TRUE(torch::allclose(mixed.images[i], expected, 1e-5, 1e-6)) << "image " << i;
  }
  auto again = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_TRUE(torch::equal(data::mixup(images, 1.0, again).images, mixed.images));
}

// The weights follow Beta(alpha, alpha): uniform at alpha = 1 (a fifth within 0.1 of either end),
// piled at the ends for small alpha, around one half for large alpha.
TEST(Batches, MixupWeightsFollowTheirBetaDistribution) {
  const auto images = torch::zeros({20000, 1});
  const auto near_an_end = [&](double alpha) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
    const auto lambda = data::mixup(images, alpha, generator).lambda;
    return (lambda.lt(0.1) | lambda.gt(0.9)).to(torch::kDouble).mean().item<double>();
  };
  EXPECT_NEAR(near_an_end(1.0), 0.2, 0.02);
  EXPECT_GT(near_an_end(0.1), 0.6);
  EXPECT_LT(near_an_end(10.0), 0.02);
}

TEST(Fetch, UnreachableServerLeavesNothing) {
  ScratchDir dir;
  data::FetchRequest request;
  request.dir = dir.path();
  request.url = "http://127.0.0.1:9/cifar-10-binary.tar.gz";  // discard port: connection refused
  EXPECT_THROW(data::fetch_cifar10(request), Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Fetch, ChecksumMismatchLeavesNothing) {
  ScratchDir dir;
  const auto archive = dir / "fake.tar.gz";
  std::ofstream(archive) << "not the CIFAR archive";
  const auto target = dir / "target";
  data::FetchRequest request;
  request.dir = target;
  request.url = "file://" + archive.string();
  try {
    data::fetch_cifar10(request);
    FAIL() << "expected a checksum error";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("checksum mismatch"));
    EXPECT_THAT(std::string(e.what()), HasSubstr(data::kCifarMd5));
  }
  EXPECT_FALSE(std::filesystem::exists(target));  // the folder the fetch created goes too
}

// Bytes that are no archive, with their own checksum (a mirror's wrong file): refused after the
// checksum, and the parent folder the fetch created goes with the staging folder.
TEST(Fetch, ACorruptArchiveLeavesNothingAndNamesTheRemedies) {
  ScratchDir dir;
  const auto archive = dir / "garbage.tar.gz";
  std::ofstream(archive) << "not a gzip stream";
  data::FetchRequest request;
  request.dir = dir / "data";
  request.url = "file://" + archive.string();
  request.md5 = data::file_digest(archive, data::DigestKind::kMd5);
  request.progress = false;
  try {
    data::fetch_cifar10(request);
    FAIL() << "expected a corrupt-archive error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("not a readable tar.gz"));
    EXPECT_THAT(message, HasSubstr("--data DIR"));
    EXPECT_THAT(message, HasSubstr("QX_DATA_URL"));
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "data"));
}

// Without --data, QX_DATA_DIR or [data] dir: the checkout's data/ first, then ../shared/data,
// else one line that says where qx looked and how to give the data.
TEST(DataDir, DefaultsToTheCheckoutsDataThenTheSharedFolderBesideIt) {
  ScratchDir dir;
  const auto checkout = dir / "checkout";
  std::filesystem::create_directories(checkout);
  const auto previous = std::filesystem::current_path();
  const char* env = std::getenv("QX_DATA_DIR");
  const std::string saved = env ? env : "";
  unsetenv("QX_DATA_DIR");
  std::filesystem::current_path(checkout);
  std::string none;
  try {
    data::resolve_data_dir("", "");
  } catch (const Error& e) {
    none = e.what();
  }
  std::filesystem::create_directories(dir / "shared" / "data" / "cifar-10-batches-bin");
  const auto shared = data::resolve_data_dir("", "");
  std::filesystem::create_directories(checkout / "data" / "cifar-10-batches-bin");
  const auto own = data::resolve_data_dir("", "");
  const auto given = data::resolve_data_dir("", "elsewhere");
  std::filesystem::current_path(previous);
  if (!saved.empty()) setenv("QX_DATA_DIR", saved.c_str(), 1);
  EXPECT_THAT(none, HasSubstr("no CIFAR-10 data found"));
  EXPECT_THAT(none, HasSubstr("data/cifar-10-batches-bin, ../shared/data/cifar-10-batches-bin"));
  EXPECT_THAT(none, HasSubstr("qx data fetch"));
  EXPECT_EQ(shared, std::filesystem::path("../shared/data/cifar-10-batches-bin"));
  EXPECT_EQ(own, std::filesystem::path("data/cifar-10-batches-bin"));
  EXPECT_EQ(given, std::filesystem::path("elsewhere"));
}

TEST(Fetch, Md5OfKnownText) {
  ScratchDir dir;
  std::ofstream(dir / "abc") << "abc";
  EXPECT_EQ(data::file_digest(dir / "abc", data::DigestKind::kMd5), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace qx::test
