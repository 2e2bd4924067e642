#include "qx/config/report_layout.h"

#include <utility>

#include "qx/config/toml_reader.h"
#include "qx/core/error.h"
#include "qx/spec/bits.h"

namespace qx::config {

namespace {

const std::vector<std::pair<std::string, SectionKind>>& kinds() {
  static const std::vector<std::pair<std::string, SectionKind>> table = {
      {"pivot", SectionKind::kPivot},          {"table", SectionKind::kTable},
      {"per-layer", SectionKind::kPerLayer},
      {"ablation", SectionKind::kAblation},    {"curve", SectionKind::kCurve},
      {"histogram", SectionKind::kHistogram},  {"training", SectionKind::kTraining}};
  return table;
}

// A row's or a section's `where` table: each setting with the values it may take.
std::map<std::string, std::vector<std::string>> read_where(TableReader& table) {
  std::map<std::string, std::vector<std::string>> where;
  auto reader = table.section("where");
  for (const auto& key : reader.keys()) where[key] = reader.get_values_as_text(key);
  reader.finish();
  return where;
}

// A table of strings by key ([names], [text]).
std::map<std::string, std::string> read_strings(TableReader& top, const std::string& key) {
  std::map<std::string, std::string> strings;
  auto reader = top.section(key);
  for (const auto& name : reader.keys()) strings[name] = reader.get_string(name, std::nullopt);
  reader.finish();
  return strings;
}

Study read_study(TableReader& study) {
  Study s;
  // Only the kinds of the fixed pages: a histogram or training section has no experiment of its own there.
  for (const char* key : {"pivot", "per-layer", "ablation", "curve"}) {
    if (const auto experiment = study.get_string(key, ""); !experiment.empty()) s.roles[experiment] = section_kind(key);
  }
  s.throughput = study.get_string_array("throughput", std::vector<std::string>{});
  s.first_layer = study.get_string("first_layer", "");
  s.last_layer = study.get_string("last_layer", "");
  s.chance = study.get_double("chance", 0.0, 0.0, 100.0);
  s.test_set = study.get_string("test_set", s.test_set);
  for (const auto bits : study.get_int_array("findings_widths", std::vector<std::int64_t>{}, spec::kMinBits, spec::kMaxBits)) {
    s.findings_widths.push_back(static_cast<int>(bits));
  }
  s.summary_histogram = study.get_string("summary_histogram", "");
  auto plugins = study.section("plugins");
  s.naive_observer = plugins.get_string("naive_observer", "");
  s.clipping_observer = plugins.get_string("clipping_observer", "");
  s.per_tensor_quantizer = plugins.get_string("per_tensor_quantizer", "");
  s.per_channel_quantizer = plugins.get_string("per_channel_quantizer", "");
  s.training_pass = plugins.get_string("training_pass", "");
  plugins.finish();
  for (auto& source : study.table_array("comparison")) {
    ComparisonSource c;
    c.experiment = source.get_string("experiment", std::nullopt);
    c.label = source.get_string("label", "");
    c.method = source.get_string("method", std::nullopt);
    c.machine = source.get_bool("machine", false);
    source.finish();
    s.comparison.push_back(std::move(c));
  }
  study.finish();
  return s;
}

GlanceRow read_glance_row(TableReader& row) {
  GlanceRow r;
  r.where_text = row.where();
  r.name = row.get_string("name", std::nullopt);
  r.experiment = row.get_string("experiment", std::nullopt);
  r.recipe = row.get_string("recipe", "");
  r.baseline = row.get_bool("baseline", false);
  r.by_machine = row.get_bool("by_machine", false);
  r.series = row.get_string("series", "");
  r.where = read_where(row);
  row.finish();
  return r;
}

GlanceJudge read_glance_judge(TableReader& judge) {
  GlanceJudge j;
  j.name = judge.get_string("name", std::nullopt);
  j.experiment = judge.get_string("experiment", std::nullopt);
  j.prefix = judge.get_string("prefix", std::nullopt);
  j.where = read_where(judge);
  judge.finish();
  return j;
}

DeclaredSection read_section(TableReader& section) {
  DeclaredSection d;
  d.kind = section_kind(section.get_choice("kind", std::string("pivot"), section_kind_names()));
  d.title = section.get_string("title", std::nullopt);
  // The training kind shows the checkpoint's run; every other kind one experiment's cells. Keys
  // a kind does not read are left unread, so finish() names them as unknown with their place.
  if (d.kind != SectionKind::kTraining) d.experiment = section.get_string("experiment", std::nullopt);
  if (d.kind == SectionKind::kPivot) {
    d.rows = section.get_string("rows", std::nullopt);
    d.columns = section.get_string("columns", std::nullopt);
    d.metric = section.get_choice("metric", std::string("top1"), {"top1", "top5", "loss"});
    d.where = read_where(section);
    d.figure = section.get_bool("figure", false);
  }
  if (d.kind == SectionKind::kTable) {
    d.show = section.get_string_array("show", std::nullopt);
    d.where = read_where(section);
    d.transpose = section.get_bool("transpose", false);
    d.name_with = section.get_string_array("name_with", std::vector<std::string>{});
    d.caption = section.get_string("caption", "");
  }
  section.finish();
  return d;
}

ReferenceRow read_reference(TableReader& reference) {
  ReferenceRow r;
  r.method = reference.get_string("method", std::nullopt);
  r.bits = reference.get_string("bits", std::nullopt);
  r.top1 = reference.get_double("top1", std::nullopt, 0, 100);
  r.fp32 = reference.get_double("fp32", std::nullopt, 0, 100);
  r.source = reference.get_string("source", std::nullopt);
  reference.finish();
  return r;
}

}  // namespace

SectionKind section_kind(const std::string& name) {
  for (const auto& [text, kind] : kinds()) {
    if (text == name) return kind;
  }
  fail("unknown section kind '{}'", name);
}

const std::vector<std::string>& section_kind_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : kinds()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

ReportLayout load_report_layout(const std::string& path) {
  const auto document = parse_toml_file(path);
  TableReader top(document.root, path, "");
  ReportLayout layout;
  auto study = top.section("study");
  layout.study = read_study(study);
  layout.names = read_strings(top, "names");
  layout.text = read_strings(top, "text");
  auto glance = top.section("glance");
  layout.figure = glance.get_string("figure", "");
  layout.main_job = glance.get_string("main_job", "");
  for (auto& row : glance.table_array("row")) layout.rows.push_back(read_glance_row(row));
  for (auto& judge : glance.table_array("judge")) layout.judges.push_back(read_glance_judge(judge));
  glance.finish();
  for (auto& section : top.table_array("section")) layout.sections.push_back(read_section(section));
  for (auto& reference : top.table_array("reference")) layout.references.push_back(read_reference(reference));
  top.finish();
  return layout;
}

}  // namespace qx::config
