// `qx data verify`: a dataset folder is checked before anything trains on it. Each broken folder
// gives one error that names the file.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "qx/core/error.h"
#include "qx/data/digest.h"
#include "qx/data/verify.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kRecords = 20;  // two images of each class per file

// The six batch files and a SHA256SUMS listing them (and, as ../shared/data does, one more file).
void write_checksummed_dir(const std::filesystem::path& dir, std::int64_t records) {
  write_cifar_dir(dir, records);
  std::ofstream(dir / "batches.meta.txt") << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
  std::ofstream sums(dir / data::kChecksumFile);
  for (const auto split : {data::Split::kTrain, data::Split::kTest}) {
    for (const auto& name : data::cifar10_files(split)) {
      sums << data::file_digest(dir / name, data::DigestKind::kSha256) << "  " << name << "\n";
    }
  }
  sums << data::file_digest(dir / "batches.meta.txt", data::DigestKind::kSha256) << "  batches.meta.txt\n";
}

void drop_checksum_line(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / data::kChecksumFile);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.size() < name.size() || line.compare(line.size() - name.size(), name.size(), name) != 0) {
      kept += line + "\n";
    }
  }
  in.close();
  std::ofstream(dir / data::kChecksumFile) << kept;
}

std::string verify_error(const std::filesystem::path& dir) {
  try {
    data::verify_cifar10(dir, kRecords);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sha256, OfKnownText) {
  ScratchDir dir;
  std::ofstream(dir / "abc") << "abc";  // FIPS 180-2's first example
  EXPECT_EQ(data::file_digest(dir / "abc", data::DigestKind::kSha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Verify, AcceptsAGoodFolderAndChecksEveryListedFile) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  const auto report = data::verify_cifar10(dir.path(), kRecords);
  EXPECT_EQ(report.train.images, 5 * kRecords);
  EXPECT_EQ(report.test.images, kRecords);
  for (const auto count : report.train.per_class) EXPECT_EQ(count, 5 * kRecords / 10);
  EXPECT_EQ(report.checksummed.size(), 7u);
}

TEST(Verify, AFolderWithoutSumsIsCheckedForLayoutAlone) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  EXPECT_TRUE(data::verify_cifar10(dir.path(), kRecords).checksummed.empty());
}

TEST(Verify, TruncatedBatchFile) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  std::filesystem::resize_file(dir / "data_batch_3.bin", kRecords * data::kCifarRecordBytes - 1);
  const auto error = verify_error(dir.path());
  EXPECT_THAT(error, HasSubstr("data_batch_3.bin has"));
  EXPECT_THAT(error, HasSubstr("truncated"));
}

TEST(Verify, LabelOfTen) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  write_cifar_file(dir / "test_batch.bin", kRecords, /*bad_label_at=*/4);
  EXPECT_THAT(verify_error(dir.path()), HasSubstr("test_batch.bin: record 4 has label 10, expected 0-9"));
}

TEST(Verify, UnbalancedClasses) {
  ScratchDir dir;
  write_cifar_dir(dir.path(), kRecords);
  {  // record 0 of test_batch.bin becomes a second class-1 image
    std::fstream file(dir / "test_batch.bin", std::ios::in | std::ios::out | std::ios::binary);
    file.put(1);
  }
  EXPECT_THAT(verify_error(dir.path()), HasSubstr("class 0 has 1 images in test_batch.bin, expected 2"));
}

TEST(Verify, MissingChecksumEntry) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  drop_checksum_line(dir.path(), "data_batch_5.bin");
  EXPECT_THAT(verify_error(dir.path()), HasSubstr("SHA256SUMS: no entry for data_batch_5.bin"));
}

TEST(Verify, ChangedPixelFailsItsChecksum) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  {
    std::fstream file(dir / "data_batch_2.bin", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
  }
  const auto error = verify_error(dir.path());
  EXPECT_THAT(error, HasSubstr("data_batch_2.bin: SHA-256"));
  EXPECT_THAT(error, HasSubstr("does not match SHA256SUMS"));
}

TEST(Verify, ListedFileMissing) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  std::filesystem::remove(dir / "batches.meta.txt");
  EXPECT_THAT(verify_error(dir.path()), HasSubstr("batches.meta.txt: listed in SHA256SUMS but missing"));
}

TEST(Verify, MalformedChecksumLineNamesItsLine) {
  ScratchDir dir;
  write_checksummed_dir(dir.path(), kRecords);
  std::ofstream(dir / data::kChecksumFile, std::ios::app) << "not-a-digest  test_batch.bin\n";
  EXPECT_THAT(verify_error(dir.path()), HasSubstr("SHA256SUMS:8: not a sha256sum line"));
}

// The command itself, on a folder of the real size: one line of error, non-zero exit.
class VerifyCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = std::make_unique<ScratchDir>();
    write_checksummed_dir(folder_->path() / "cifar", data::kCifarRecordsPerFile);
  }
  static void TearDownTestSuite() { folder_.reset(); }
  static std::filesystem::path data() { return folder_->path() / "cifar"; }
  static std::unique_ptr<ScratchDir> folder_;
  ScratchDir scratch_;
};
std::unique_ptr<ScratchDir> VerifyCliTest::folder_;

TEST_F(VerifyCliTest, AGoodFolderPasses) {
  const auto outcome = run_qx("data verify '" + data().string() + "'", scratch_);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("50000 training and 10000 test images"));
  EXPECT_THAT(outcome.out, HasSubstr("SHA-256 of 7 files match SHA256SUMS"));
}

TEST_F(VerifyCliTest, AMissingChecksumEntryIsOneLine) {
  const auto copy = scratch_ / "cifar";
  std::filesystem::create_directories(copy);
  for (const auto& entry : std::filesystem::directory_iterator(data())) {
    std::filesystem::create_symlink(entry.path(), copy / entry.path().filename());
  }
  std::filesystem::remove(copy / data::kChecksumFile);
  std::filesystem::copy_file(data() / data::kChecksumFile, copy / data::kChecksumFile);
  drop_checksum_line(copy, "test_batch.bin");
  expect_clean_failure(run_qx("data verify cifar", scratch_), "SHA256SUMS: no entry for test_batch.bin");
}

}  // namespace
}  // namespace qx::test
