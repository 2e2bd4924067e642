// Files a user copies around, broken: each gives one line that names the file and the cause, a
// non-zero exit, and leaves every file as it was (docs/reliability.md).
#include <unistd.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "ptq_test.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

std::string bytes_of(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class BadFileTest : public PtqTest {
 protected:
  void SetUp() override {
    PtqTest::SetUp();
    write("[[cells]]\nname = \"fp32\"\nquantize = false\n"
          "[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n");
  }
  // Runs `qx run` on a database that is already there and checks it was left byte for byte.
  void expect_refused_database(const std::string& cause) {
    const auto before = bytes_of(scratch_ / "results.sqlite");
    expect_clean_failure(run_qx("run e.toml", scratch_), cause);
    EXPECT_EQ(bytes_of(scratch_ / "results.sqlite"), before);
  }
  // A plugin folder holding links to the real plugins and `file` under `name`.
  std::filesystem::path plugin_dir_with(const std::filesystem::path& file, const std::string& name) {
    const auto dir = scratch_ / "plugins";
    std::filesystem::create_directories(dir);
    for (const auto& entry : std::filesystem::directory_iterator(QX_PLUGIN_DIR)) {
      if (entry.path().extension() == ".so") std::filesystem::create_symlink(entry.path(), dir / entry.path().filename());
    }
    std::filesystem::copy_file(file, dir / name);
    return dir;
  }
};

TEST_F(BadFileTest, ADatabaseThatIsNotSqlite) {
  std::ofstream(scratch_ / "results.sqlite") << std::string(4096, 'x');
  expect_refused_database("results.sqlite: file is not a database");
}

TEST_F(BadFileTest, ATruncatedDatabase) {
  ASSERT_EQ(run_qx("run e.toml", scratch_).exit_code, 0);
  const auto size = std::filesystem::file_size(scratch_ / "results.sqlite");
  std::filesystem::resize_file(scratch_ / "results.sqlite", size / 3);
  expect_refused_database("results.sqlite: database disk image is malformed");
}

TEST_F(BadFileTest, ADatabaseOfANewerSchema) {
  ASSERT_EQ(run_qx("run e.toml", scratch_).exit_code, 0);
  ASSERT_EQ(std::system(("sqlite3 '" + (scratch_ / "results.sqlite").string() +
                         "' 'UPDATE schema_version SET version = 99'").c_str()), 0);
  expect_refused_database("schema version 99 is newer than this qx understands");
}

TEST_F(BadFileTest, ASharedLibraryThatIsNotAQxPlugin) {
  // A real ELF shared library, named like a plugin, without qx's entry points.
  const auto dir = plugin_dir_with("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "libqx_observer_lookalike.so");
  write("[[cells]]\nname = \"w8\"\nobserver = \"lookalike\"\nquantizer = \"per_channel\"\nbits = 8\n");
  expect_clean_failure(run_qx("--plugins '" + dir.string() + "' run e.toml", scratch_),
                       "libqx_observer_lookalike.so: missing entry point qx_plugin_info or qx_plugin_register");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
  // A run that does not ask for it is not stopped by it; `qx plugins` says why it was refused.
  const auto listing = run_qx("--plugins '" + dir.string() + "' plugins", scratch_);
  EXPECT_THAT(listing.out, HasSubstr("REFUSED"));
}

TEST_F(BadFileTest, AFileThatIsNotALibraryAtAll) {
  std::ofstream(scratch_ / "text.so") << "not an ELF file\n";
  const auto dir = plugin_dir_with(scratch_ / "text.so", "libqx_quantizer_text.so");
  write("[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"text\"\nbits = 8\n");
  expect_clean_failure(run_qx("--plugins '" + dir.string() + "' run e.toml", scratch_),
                       "libqx_quantizer_text.so: cannot be loaded");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
}

TEST_F(BadFileTest, APluginFolderThatIsAFile) {
  std::ofstream(scratch_ / "plugins.txt") << "a file\n";
  expect_clean_failure(run_qx("--plugins plugins.txt run e.toml", scratch_),
                       "plugin directory 'plugins.txt' is not a directory");
}

TEST_F(BadFileTest, APluginFolderThatCannotBeRead) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any folder whatever its mode";
  std::filesystem::create_directories(scratch_ / "locked");
  std::filesystem::permissions(scratch_ / "locked", std::filesystem::perms::none);
  expect_clean_failure(run_qx("--plugins locked run e.toml", scratch_), "plugin directory 'locked' cannot be read");
  std::filesystem::permissions(scratch_ / "locked", std::filesystem::perms::owner_all);
}

}  // namespace
}  // namespace qx::test
