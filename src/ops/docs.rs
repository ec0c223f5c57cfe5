//! The statements Mattermost's Deployment Solutions Program asks a deployment's README (or
//! equivalent) to carry, and a checker for them. The statements are data: each one's key, tier,
//! requirement, text and rule are in `docs/statements.toml` (embedded, parsed once), and code
//! selects them by key ([`text`], [`items`], the keys in [`key`]).
//!
//! The program recognises deployment solutions at three [`Tier`]s: Community (installation and
//! minimum documentation), Registered (adds the security-updates commitment and the branding
//! name) and Certified (adds automated upgrades). [`statements`] gives a tier's statements with
//! every placeholder filled in for mm-install, [`render_markdown`] lays them out as the Markdown
//! that `mm-install docs --tier T` prints, and [`check`] reports which of them a README lacks
//! (`missing`) or carries with words changed (`altered`).
//!
//! Most statements are the program's own sentences ([`Statement::exact`]) and are compared word
//! for word after whitespace is normalised: Markdown wraps lines, so line breaks, indentation
//! and blockquote markers never count as a change. An altered statement is recognised by a
//! distinctive anchor phrase (e.g. "security updates email list") or, failing that, by a window
//! of the README that is at least 75% the same words. Two requirements have no sentence in the
//! program, the documentation of unofficial deployment options and the upgrade statement: their
//! text is ours, and the checker only looks for a few key words.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use std::sync::LazyLock;

use serde::Deserialize;

use crate::exit::{Diagnostic, ExitCode};

/// The keys of the statements and list items code selects (the data file holds them all).
pub mod key {
    /// The link to the official documentation.
    pub const OFFICIAL_DOCS: &str = "official-docs";
    /// The sentence introducing the production-ready steps; its items are the steps.
    pub const PRODUCTION_READY: &str = "production-ready";
    /// The production-ready step to serve Mattermost over TLS.
    pub const TLS_STEP: &str = "tls";
    /// The production-ready step to create the first (system admin) account.
    pub const FIRST_ACCOUNT_STEP: &str = "first-account";
}

/// The embedded statements file.
const STATEMENTS: &str = include_str!("docs/statements.toml");

/// Where the equivalence statement names the operating system.
const OS_PLACEHOLDER: &str = "{os}";

/// How the equivalence statement's placeholder is shown in messages, as the program writes it.
const OS_PLACEHOLDER_SHOWN: &str = "[OPERATING_SYSTEM]";

/// The longest operating-system name the checker accepts in the equivalence statement.
const MAX_OS_NAME_BYTES: usize = 60;

/// Windows of the README around an anchor phrase at least this similar to a statement are an
/// altered copy of it.
const ANCHORED_SIMILARITY: f64 = 0.5;
/// Windows of the README anywhere at least this similar to a statement are an altered copy.
const FUZZY_SIMILARITY: f64 = 0.75;
/// How many words a window around an anchor may start earlier or later, and grow or shrink.
const WINDOW_SLACK: isize = 3;
/// Markdown output is wrapped at this width, as the README is.
const WRAP_WIDTH: usize = 100;

/// The program's tiers, from the least to the most demanding; each includes the ones before.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Installation and minimum documentation.
    Community,
    /// Adds the security-updates commitment and the branding name.
    Registered,
    /// Adds automated upgrades.
    Certified,
}

impl Tier {
    /// Every tier, least demanding first.
    pub const ALL: [Tier; 3] = [Tier::Community, Tier::Registered, Tier::Certified];
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::keyword::write(self, f)
    }
}

/// One statement a tier requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its key in the data file, e.g. `official-docs` (see [`key`]).
    pub key: &'static str,
    /// Which requirement it meets, e.g. `Documentation: official docs link`.
    pub requirement: &'static str,
    /// The Markdown text, placeholders filled in.
    pub text: String,
    /// `true` when the text is the program's own sentence, checked word for word (for the
    /// production-ready steps: the sentence that introduces them, which must be followed by a
    /// list); `false` when the text is ours and only checked loosely.
    pub exact: bool,
}

/// An item of a statement's list (the production-ready steps).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Its key, e.g. `tls` (see [`key`]).
    pub key: String,
    /// The Markdown text.
    pub text: String,
}

/// The statements file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    statement: Vec<Spec>,
}

/// One statement as the data file holds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    key: String,
    /// The least demanding tier that requires it.
    tier: Tier,
    requirement: String,
    /// The text; the equivalence statement's names the operating system as `{os}`.
    text: String,
    #[serde(default)]
    items: Vec<Item>,
    rule: Rule,
}

/// How [`check`] looks for a statement.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Rule {
    /// The statement's text, or one of `alternatives`, word for word; `anchors` locate an
    /// altered copy.
    Exact {
        anchors: Vec<String>,
        #[serde(default)]
        alternatives: Vec<String>,
    },
    /// The text word for word, followed by a Markdown list.
    HeadingWithList { anchors: Vec<String> },
    /// At least one equivalence statement, any operating system named, and no altered one;
    /// without a system to name, the statement lists `operating_systems`.
    Equivalence {
        operating_systems: Vec<String>,
        anchors: Vec<String>,
    },
    /// Our own text: each group needs one of its phrases somewhere (case-insensitive).
    Loose { groups: Vec<Vec<String>> },
}

/// Every statement of the data file, in the program's order, parsed on first use. The file is
/// part of the binary and the tests parse it, so a failure here is a build defect.
static CATALOG: LazyLock<Vec<Spec>> =
    LazyLock::new(|| match toml::from_str::<Catalog>(STATEMENTS) {
        Ok(catalog) => catalog.statement,
        Err(err) => panic!("the embedded src/ops/docs/statements.toml is invalid: {err}"),
    });

/// The statement `key` of the data file (keys used by code are in [`key`] and tested).
fn spec(key: &str) -> &'static Spec {
    match CATALOG.iter().find(|spec| spec.key == key) {
        Some(spec) => spec,
        None => panic!("no statement `{key}` in src/ops/docs/statements.toml"),
    }
}

/// The text of the statement `key`, e.g. [`key::OFFICIAL_DOCS`].
pub fn text(key: &str) -> &'static str {
    &spec(key).text
}

/// The items of the statement `key`'s list, e.g. the steps of [`key::PRODUCTION_READY`].
pub fn items(key: &str) -> &'static [Item] {
    &spec(key).items
}

/// Whether a statement is absent or present with words changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Nothing like the statement is there.
    Missing,
    /// A close variant is there: words were changed, added or removed.
    Altered,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Missing => "missing",
            Problem::Altered => "altered",
        })
    }
}

/// A requirement a README does not meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The requirement, as in [`Statement::requirement`].
    pub requirement: &'static str,
    pub problem: Problem,
    /// What exactly is wrong: the changed words, or what was looked for; empty when the
    /// statement is simply not there.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.requirement, self.problem)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// What can go wrong with `mm-install docs`.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// The file to check cannot be read.
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file lacks statements of the tier, or carries them altered.
    #[error(
        "{} does not meet the {tier} tier of the Deployment Solutions Program: {}",
        .path.display(),
        summarize(.findings)
    )]
    NotCompliant {
        path: PathBuf,
        tier: Tier,
        findings: Vec<Finding>,
    },
}

impl Diagnostic for DocsError {
    fn exit_code(&self) -> ExitCode {
        match self {
            DocsError::Read { .. } | DocsError::NotCompliant { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            DocsError::Read { path, .. } => format!(
                "check that {} exists and is readable; --check takes the README (or equivalent) to check",
                path.display()
            ),
            DocsError::NotCompliant { tier, .. } => format!(
                "print the statements with `mm-install docs --tier {tier}` and copy the missing or altered ones word for word (line breaks do not matter)"
            ),
        })
    }
}

/// `Requirement (problem), …` for an error message.
fn summarize(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|finding| format!("{} ({})", finding.requirement, finding.problem))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The equivalence statement `template` with `os` named.
fn fill_os(template: &str, os: &str) -> String {
    template.replace(OS_PLACEHOLDER, os)
}

/// The statements of `tier`, placeholders filled in, each with its entry in the data file.
fn specs(tier: Tier, equivalent_os: Option<&str>) -> Vec<(Statement, &'static Spec)> {
    CATALOG
        .iter()
        .filter(|spec| spec.tier <= tier)
        .map(|spec| {
            let text = match (&spec.rule, equivalent_os) {
                (Rule::Equivalence { .. }, Some(os)) => fill_os(&spec.text, os),
                (
                    Rule::Equivalence {
                        operating_systems, ..
                    },
                    None,
                ) => operating_systems
                    .iter()
                    .map(|os| format!("- {}", fill_os(&spec.text, os)))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => {
                    let mut text = spec.text.clone();
                    if !spec.items.is_empty() {
                        text.push('\n');
                    }
                    for (number, item) in spec.items.iter().enumerate() {
                        text.push_str(&format!("\n{}. {}", number + 1, item.text));
                    }
                    text
                }
            };
            let statement = Statement {
                key: &spec.key,
                requirement: &spec.requirement,
                text,
                exact: !matches!(spec.rule, Rule::Loose { .. }),
            };
            (statement, spec)
        })
        .collect()
}

/// The statements `tier` requires, in the program's order. With `equivalent_os` (the name of
/// the RHEL equivalent the deployment runs on), the RHEL-equivalence statement names it; without
/// it, the statement is the README variant, one sentence per equivalent mm-install supports.
pub fn statements(tier: Tier, equivalent_os: Option<&str>) -> Vec<Statement> {
    specs(tier, equivalent_os)
        .into_iter()
        .map(|(statement, _)| statement)
        .collect()
}

/// The Markdown `mm-install docs --tier T` prints: a `##` heading, then a `###` section per
/// requirement area of the program holding its statements, wrapped at 100 columns.
pub fn render_markdown(tier: Tier, equivalent_os: Option<&str>) -> String {
    render(tier, equivalent_os, WRAP_WIDTH)
}

/// [`render_markdown`] wrapped at `width` columns.
fn render(tier: Tier, equivalent_os: Option<&str>, width: usize) -> String {
    let mut out = String::from("## Mattermost Deployment Solutions Program\n");
    push_block(
        &mut out,
        width,
        &format!(
            "These statements follow the requirements of the {tier} tier of Mattermost's Deployment Solutions Program; `mm-install docs --check README.md --tier {tier}` checks that each one is here, word for word where the program gives the words."
        ),
    );
    let mut area = "";
    for statement in statements(tier, equivalent_os) {
        let this_area = statement
            .requirement
            .split_once(':')
            .map_or(statement.requirement, |(area, _)| area);
        if this_area != area {
            area = this_area;
            out.push_str(&format!("\n### {area}\n"));
            if matches!(spec(statement.key).rule, Rule::Equivalence { .. }) {
                let which = if equivalent_os.is_some() {
                    "on Red Hat Enterprise Linux equivalents."
                } else {
                    "on these Red Hat Enterprise Linux equivalents:"
                };
                push_block(
                    &mut out,
                    width,
                    &format!(
                        "mm-install installs Mattermost on the operating systems Mattermost officially supports (Ubuntu, Debian and Red Hat Enterprise Linux) and {which}"
                    ),
                );
            }
        }
        push_block(&mut out, width, &statement.text);
    }
    out
}

/// Append `text` as a Markdown block (after a blank line), each line wrapped at `width`.
fn push_block(out: &mut String, width: usize, text: &str) {
    out.push('\n');
    for line in text.lines() {
        out.push_str(&wrap(line, width));
        out.push('\n');
    }
}

/// The width of a Markdown list marker (`- `, `* `, `12. `) at the start of `line`, if any.
fn list_marker_len(line: &str) -> Option<usize> {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return Some(2);
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    (digits > 0 && (rest.starts_with(". ") || rest.starts_with(") "))).then_some(digits + 2)
}

/// Whether a line starting with `word` would change meaning in Markdown (a list item, a
/// heading, a blockquote), so a wrapped line must not start with it.
fn starts_block(word: &str) -> bool {
    word.starts_with(['#', '>', '-', '+', '*', '|'])
        || list_marker_len(&format!("{word} ")).is_some()
}

/// The words of `line`, a code span (`` `a b` ``) kept as one word so no line break lands
/// inside it.
fn unbreakable_words(line: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in line.split_whitespace() {
        match words.last_mut() {
            Some(last) if in_code => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
        if word.matches('`').count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    words
}

/// `line` wrapped at `width` columns between words (never inside a code span); list items get
/// a hanging indent.
fn wrap(line: &str, width: usize) -> String {
    let indent = " ".repeat(list_marker_len(line).unwrap_or(0));
    let mut out = String::new();
    let mut current = String::new();
    for word in unbreakable_words(line) {
        let word = word.as_str();
        let fits = current.chars().count() + 1 + word.chars().count() <= width;
        if current.is_empty() {
            current.push_str(word);
        } else if fits || starts_block(word) {
            current.push(' ');
            current.push_str(word);
        } else {
            out.push_str(&current);
            out.push('\n');
            current = format!("{indent}{word}");
        }
    }
    out.push_str(&current);
    out
}

/// Read `path` and [`check`] it.
pub fn check_file(path: &Path, tier: Tier) -> Result<Vec<Finding>, DocsError> {
    let text = fs_err::read_to_string(path).map_err(|source| DocsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(check(&text, tier))
}

/// The requirements of `tier` that `readme_text` does not meet, in the program's order: each
/// statement missing, or present with words changed. Whitespace (line wrapping, indentation,
/// blockquote markers) never counts. An empty result means the README carries every statement.
pub fn check(readme_text: &str, tier: Tier) -> Vec<Finding> {
    let readme = Normalized::new(readme_text);
    specs(tier, None)
        .into_iter()
        .filter_map(|(statement, spec)| {
            let finding = |problem, detail| Finding {
                requirement: statement.requirement,
                problem,
                detail,
            };
            match &spec.rule {
                Rule::Exact {
                    anchors,
                    alternatives,
                } => {
                    let mut forms = vec![statement.text.as_str()];
                    forms.extend(alternatives.iter().map(String::as_str));
                    if forms.iter().any(|form| readme.contains(form)) {
                        return None;
                    }
                    Some(
                        match closest_variant(&readme, &statement.text, anchors, &[]) {
                            Some(variant) => {
                                finding(Problem::Altered, describe_changes(&variant.edits))
                            }
                            None => finding(Problem::Missing, String::new()),
                        },
                    )
                }
                Rule::HeadingWithList { anchors } => {
                    let heading = spec.text.as_str();
                    let mut present = false;
                    for start in readme.find_all(heading) {
                        present = true;
                        let end = readme.original_end(start + normalize(heading).len());
                        if list_follows(&readme_text[end..]) {
                            return None;
                        }
                    }
                    Some(if present {
                        finding(
                            Problem::Missing,
                            "no list of steps follows the sentence that introduces them".into(),
                        )
                    } else {
                        match closest_variant(&readme, heading, anchors, &[]) {
                            Some(variant) => {
                                finding(Problem::Altered, describe_changes(&variant.edits))
                            }
                            None => finding(Problem::Missing, String::new()),
                        }
                    })
                }
                Rule::Equivalence { anchors, .. } => {
                    check_equivalence(&readme, &spec.text, anchors)
                        .map(|(problem, detail)| finding(problem, detail))
                }
                Rule::Loose { groups } => {
                    let lower = readme.text.to_lowercase();
                    let absent: Vec<String> = groups
                        .iter()
                        .filter(|group| {
                            !group
                                .iter()
                                .any(|phrase| lower.contains(&phrase.to_lowercase()))
                        })
                        .map(|group| {
                            group
                                .iter()
                                .map(|phrase| format!("`{phrase}`"))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        })
                        .collect();
                    (!absent.is_empty()).then(|| {
                        finding(
                            Problem::Missing,
                            format!("no mention of {}", absent.join(", nor of ")),
                        )
                    })
                }
            }
        })
        .collect()
}

/// The RHEL-equivalence rule: `None` when at least one statement is there, word for word with
/// any operating system named, and no altered one is.
fn check_equivalence(
    readme: &Normalized,
    template: &str,
    anchors: &[String],
) -> Option<(Problem, String)> {
    let text = &readme.text;
    let (prefix, suffix) = template
        .split_once(OS_PLACEHOLDER)
        .unwrap_or((template, ""));
    let mut exact: Vec<Range<usize>> = Vec::new();
    for (start, _) in text.match_indices(prefix) {
        let after = start + prefix.len();
        let Some(offset) = text[after..].find(suffix) else {
            continue;
        };
        let name = &text[after..after + offset];
        let plausible = !name.trim().is_empty()
            && name.len() <= MAX_OS_NAME_BYTES
            && !name.contains(['.', '!', '?', ':', ';', '[', ']']);
        if plausible {
            exact.push(start..after + offset + suffix.len());
        }
    }
    let template = fill_os(template, OS_PLACEHOLDER_SHOWN);
    let excluded: Vec<Range<usize>> = exact
        .iter()
        .map(|range| readme.word_range(range.clone()))
        .collect();
    if let Some(variant) = closest_variant(readme, &template, anchors, &excluded) {
        return Some((
            Problem::Altered,
            format!(
                "found “{}”, which is not “{template}” with an operating system named",
                shorten(&variant.found, 200)
            ),
        ));
    }
    exact.is_empty().then(|| {
        (
            Problem::Missing,
            format!("no sentence “{template}” (with an operating system named)"),
        )
    })
}

/// Whether the text right after an introducing sentence is a Markdown list: the rest of the
/// sentence's line is empty and the next non-blank line is a list item.
fn list_follows(rest: &str) -> bool {
    let mut lines = rest.split('\n');
    if lines.next().is_some_and(|tail| !tail.trim().is_empty()) {
        return false;
    }
    lines
        .map(|line| line.trim_start_matches([' ', '\t', '>']).trim_start())
        .find(|line| !line.is_empty())
        .is_some_and(|line| list_marker_len(line).is_some())
}

/// `text` with blockquote markers dropped and every whitespace run made one space.
fn normalize(text: &str) -> String {
    Normalized::new(text).text
}

/// A text with blockquote markers dropped and whitespace runs collapsed to single spaces,
/// remembering where each byte came from.
struct Normalized {
    text: String,
    /// For each byte of `text`, its byte offset in the original.
    origin: Vec<usize>,
    /// Each word's byte range in `text`.
    words: Vec<Range<usize>>,
}

impl Normalized {
    fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        let mut space_pending = false;
        let mut line_start = 0;
        for line in original.split_inclusive('\n') {
            let body = blockquote_marker_len(line);
            for (index, ch) in line[body..].char_indices() {
                let at = line_start + body + index;
                if ch.is_whitespace() {
                    space_pending = !text.is_empty();
                    continue;
                }
                if space_pending {
                    text.push(' ');
                    origin.push(at);
                    space_pending = false;
                }
                text.push(ch);
                origin.extend((0..ch.len_utf8()).map(|k| at + k));
            }
            space_pending = !text.is_empty();
            line_start += line.len();
        }
        let mut words = Vec::new();
        let mut start = 0;
        for (index, byte) in text.bytes().enumerate() {
            if byte == b' ' {
                words.push(start..index);
                start = index + 1;
            }
        }
        if start < text.len() {
            words.push(start..text.len());
        }
        Normalized {
            text,
            origin,
            words,
        }
    }

    /// Whether `statement` appears, whitespace normalised.
    fn contains(&self, statement: &str) -> bool {
        self.text.contains(&normalize(statement))
    }

    /// The start of every occurrence of `statement`, whitespace normalised.
    fn find_all(&self, statement: &str) -> Vec<usize> {
        self.text
            .match_indices(&normalize(statement))
            .map(|(start, _)| start)
            .collect()
    }

    /// The byte offset in the original just after normalised byte `end - 1`.
    fn original_end(&self, end: usize) -> usize {
        self.origin[end - 1] + 1
    }

    /// The index of the word holding byte `at`.
    fn word_at(&self, at: usize) -> usize {
        self.words.partition_point(|word| word.end <= at)
    }

    /// The word indices covering the byte range `bytes`.
    fn word_range(&self, bytes: Range<usize>) -> Range<usize> {
        self.word_at(bytes.start)..self.word_at(bytes.end.saturating_sub(1)) + 1
    }

    fn word(&self, index: usize) -> &str {
        &self.text[self.words[index].clone()]
    }
}

/// The length of the blockquote markers (`>`, `> > `) opening `line`.
fn blockquote_marker_len(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut position = 0;
    loop {
        let mut next = position;
        while next < bytes.len() && next - position < 3 && bytes[next] == b' ' {
            next += 1;
        }
        if next < bytes.len() && bytes[next] == b'>' {
            position = next + 1;
            if position < bytes.len() && bytes[position] == b' ' {
                position += 1;
            }
        } else {
            return position;
        }
    }
}

/// A stretch of the README that looks like an altered statement.
struct Variant {
    /// The README's words, joined by single spaces.
    found: String,
    /// How the expected words became the found ones.
    edits: Vec<Edit>,
}

/// The README window most like `expected` that is not word for word the same: first around the
/// `anchors` (case-insensitive), then anywhere; windows overlapping `excluded` word ranges are
/// skipped. `None` when nothing is close enough.
fn closest_variant(
    readme: &Normalized,
    expected: &str,
    anchors: &[String],
    excluded: &[Range<usize>],
) -> Option<Variant> {
    let expected_text = normalize(expected);
    let expected_words: Vec<&str> = expected_text.split(' ').collect();
    let total = readme.words.len();
    let n = expected_words.len();
    if total == 0 || n == 0 {
        return None;
    }
    let overlaps = |window: &Range<usize>| {
        excluded
            .iter()
            .any(|range| window.start < range.end && range.start < window.end)
    };
    let similarity_of = |window: &Range<usize>| {
        let found: Vec<&str> = window.clone().map(|index| readme.word(index)).collect();
        similarity(&expected_words, &found)
    };
    let mut best: Option<(f64, Range<usize>)> = None;
    fn consider(
        best: &mut Option<(f64, Range<usize>)>,
        window: Range<usize>,
        score: f64,
        threshold: f64,
    ) {
        if score >= threshold && best.as_ref().is_none_or(|(b, _)| score > *b) {
            *best = Some((score, window));
        }
    }

    let lower = readme.text.to_ascii_lowercase();
    let expected_lower = expected_text.to_ascii_lowercase();
    for anchor in anchors {
        let anchor = normalize(anchor).to_ascii_lowercase();
        let Some(anchor_in_expected) = expected_lower.find(&anchor) else {
            continue;
        };
        let anchor_word = expected_lower[..anchor_in_expected].matches(' ').count() as isize;
        for (at, _) in lower.match_indices(&anchor) {
            let base = readme.word_at(at) as isize - anchor_word;
            for shift in -WINDOW_SLACK..=WINDOW_SLACK {
                for grow in -WINDOW_SLACK..=WINDOW_SLACK {
                    let start = (base + shift).clamp(0, total as isize) as usize;
                    let end =
                        (start as isize + n as isize + grow).clamp(0, total as isize) as usize;
                    if start >= end {
                        continue;
                    }
                    let window = start..end;
                    if overlaps(&window) {
                        continue;
                    }
                    let score = similarity_of(&window);
                    consider(&mut best, window, score, ANCHORED_SIMILARITY);
                }
            }
        }
    }

    if best.is_none() && total >= n {
        // Every window of n words; a cheap count of words that occur in the statement at all
        // rules out most windows before the edit distance is computed.
        let vocabulary: std::collections::HashSet<&str> = expected_words.iter().copied().collect();
        let needed = (FUZZY_SIMILARITY * n as f64).ceil() as usize;
        let known: Vec<bool> = (0..total)
            .map(|index| vocabulary.contains(readme.word(index)))
            .collect();
        let mut count = known[..n].iter().filter(|k| **k).count();
        for start in 0..=total - n {
            if start > 0 {
                count = count + usize::from(known[start + n - 1]) - usize::from(known[start - 1]);
            }
            let window = start..start + n;
            if count < needed || overlaps(&window) {
                continue;
            }
            let score = similarity_of(&window);
            consider(&mut best, window, score, FUZZY_SIMILARITY);
        }
    }

    best.map(|(_, window)| {
        let found: Vec<&str> = window.map(|index| readme.word(index)).collect();
        Variant {
            found: found.join(" "),
            edits: edits(&expected_words, &found),
        }
    })
}

/// 1 minus the word-level edit distance over the longer length: 1.0 for the same words.
fn similarity(expected: &[&str], found: &[&str]) -> f64 {
    let longest = expected.len().max(found.len());
    if longest == 0 {
        return 1.0;
    }
    1.0 - distance_table(expected, found)[expected.len()][found.len()] as f64 / longest as f64
}

/// The Levenshtein table over words: `table[i][j]` is the distance between the first `i`
/// expected words and the first `j` found ones.
fn distance_table(expected: &[&str], found: &[&str]) -> Vec<Vec<usize>> {
    let mut table = vec![vec![0; found.len() + 1]; expected.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=expected.len() {
        for j in 1..=found.len() {
            let substitution = table[i - 1][j - 1] + usize::from(expected[i - 1] != found[j - 1]);
            table[i][j] = substitution
                .min(table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1);
        }
    }
    table
}

/// One change between the expected words and the found ones: a run of expected words replaced
/// by a run of found words (either may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edit {
    expected: String,
    found: String,
}

/// The changes that turn `expected` into `found`, in order.
fn edits(expected: &[&str], found: &[&str]) -> Vec<Edit> {
    let table = distance_table(expected, found);
    // Walk back from the end, collecting each word's fate, then group runs of changes.
    let mut steps: Vec<(Option<&str>, Option<&str>)> = Vec::new();
    let (mut i, mut j) = (expected.len(), found.len());
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && expected[i - 1] == found[j - 1] && table[i][j] == table[i - 1][j - 1] {
            steps.push((Some(expected[i - 1]), Some(found[j - 1])));
            i -= 1;
            j -= 1;
        } else if i > 0 && table[i][j] == table[i - 1][j] + 1 {
            steps.push((Some(expected[i - 1]), None));
            i -= 1;
        } else if j > 0 && table[i][j] == table[i][j - 1] + 1 {
            steps.push((None, Some(found[j - 1])));
            j -= 1;
        } else {
            // A substitution (only a tie with a deletion or insertion prefers those).
            steps.push((Some(expected[i - 1]), Some(found[j - 1])));
            i -= 1;
            j -= 1;
        }
    }
    steps.reverse();
    let mut result = Vec::new();
    let mut current: Option<(Vec<&str>, Vec<&str>)> = None;
    for (old, new) in steps {
        if old.is_some() && old == new {
            if let Some((before, after)) = current.take() {
                result.push(Edit {
                    expected: before.join(" "),
                    found: after.join(" "),
                });
            }
            continue;
        }
        let (before, after) = current.get_or_insert_with(Default::default);
        before.extend(old);
        after.extend(new);
    }
    if let Some((before, after)) = current {
        result.push(Edit {
            expected: before.join(" "),
            found: after.join(" "),
        });
    }
    result
}

/// The edits in words: "`10` changed to `14`; `and upgrades` is missing".
fn describe_changes(edits: &[Edit]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = edits
        .iter()
        .take(SHOWN)
        .map(
            |edit| match (edit.expected.is_empty(), edit.found.is_empty()) {
                (false, false) => format!("`{}` changed to `{}`", edit.expected, edit.found),
                (false, true) => format!("`{}` is missing", edit.expected),
                _ => format!("`{}` was added", edit.found),
            },
        )
        .collect();
    if edits.len() > SHOWN {
        parts.push(format!("and {} more changes", edits.len() - SHOWN));
    }
    parts.join("; ")
}

/// `text` cut to about `limit` bytes at a character boundary, with an ellipsis when cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::INSTALL_DIR;

    /// The equivalence statement naming `os`.
    fn equivalence_statement(os: &str) -> String {
        fill_os(super::text("rhel-equivalents"), os)
    }

    /// `host::classify` writes the same equivalence statement as the data file's.
    #[test]
    fn the_platform_statement_is_the_data_files() {
        let os = crate::host::OsRelease::parse(
            "ID=rocky\nNAME=\"Rocky Linux\"\nVERSION_ID=\"9.4\"\nID_LIKE=\"rhel centos fedora\"\n",
        );
        let platform = crate::host::classify(&os, crate::host::Arch::Amd64, Some(true));
        assert_eq!(
            platform.statement,
            Some(equivalence_statement(&platform.name))
        );
    }

    /// The requirement of the statement `key`.
    fn req(key: &str) -> &'static str {
        &spec(key).requirement
    }

    /// The operating systems the README variant of the equivalence statement lists.
    fn operating_systems() -> &'static [String] {
        match &spec("rhel-equivalents").rule {
            Rule::Equivalence {
                operating_systems, ..
            } => operating_systems,
            rule => panic!("{rule:?}"),
        }
    }

    /// The description without the optional `and upgrades`.
    fn description_install_only() -> &'static str {
        match &spec("description").rule {
            Rule::Exact { alternatives, .. } => &alternatives[0],
            rule => panic!("{rule:?}"),
        }
    }

    /// A README that carries `tier`'s statements among other text, one line per paragraph (so
    /// that tests can replace sentences).
    fn readme(tier: Tier) -> String {
        format!(
            "# mm-install\n\nSome introduction.\n\n{}\n## Development\n\nMore text.\n",
            render(tier, None, usize::MAX)
        )
    }

    fn requirements(findings: &[Finding]) -> Vec<(&'static str, Problem)> {
        findings
            .iter()
            .map(|finding| (finding.requirement, finding.problem))
            .collect()
    }

    /// Every paragraph's lines joined and wrapped again at `width` (list items untouched).
    fn rewrap(text: &str, width: usize) -> String {
        text.split("\n\n")
            .map(|block| {
                if block.starts_with('#') || list_marker_len(block.trim_start()).is_some() {
                    block.to_owned()
                } else {
                    let mut lines = Vec::new();
                    let mut line = String::new();
                    for word in block.split_whitespace() {
                        if !line.is_empty() && line.len() + 1 + word.len() > width {
                            lines.push(std::mem::take(&mut line));
                        }
                        if !line.is_empty() {
                            line.push(' ');
                        }
                        line.push_str(word);
                    }
                    lines.push(line);
                    lines.join("\n")
                }
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn tiers_parse_and_print() {
        use clap::ValueEnum;
        for (tier, keyword) in Tier::ALL
            .into_iter()
            .zip(["community", "registered", "certified"])
        {
            assert_eq!(Tier::from_str(keyword, false).unwrap(), tier);
            assert_eq!(tier.to_string(), keyword);
        }
        assert!(Tier::from_str("gold", false).is_err());
        assert!(Tier::Community < Tier::Registered && Tier::Registered < Tier::Certified);
    }

    #[test]
    fn each_tier_adds_its_requirements() {
        let names = |tier| -> Vec<&str> {
            statements(tier, None)
                .iter()
                .map(|statement| statement.requirement)
                .collect()
        };
        assert_eq!(
            names(Tier::Community),
            [
                req("rhel-equivalents"),
                req("official-docs"),
                req("description"),
                req("production-ready"),
                req("unofficial"),
            ]
        );
        assert_eq!(
            names(Tier::Registered)[5..],
            [req("security-updates"), req("branding")]
        );
        assert_eq!(names(Tier::Certified)[7..], [req("upgrade")]);
        let loose: Vec<_> = statements(Tier::Certified, None)
            .into_iter()
            .filter(|statement| !statement.exact)
            .map(|statement| statement.requirement)
            .collect();
        assert_eq!(loose, [req("unofficial"), req("upgrade")]);
    }

    #[test]
    fn the_program_sentences_are_verbatim() {
        // From the program's text (the seed), placeholders filled in.
        assert_eq!(
            super::text("branding"),
            "The name for this deployment solution in the context of [Mattermost branding guidelines](https://handbook.mattermost.com/operations/operations/publishing/publishing-guidelines/brand-and-visual-design-guidelines) is `mm-install for Mattermost by the mm-install developers`."
        );
        assert_eq!(
            equivalence_statement("Rocky Linux"),
            "This deployment uses Rocky Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux."
        );
        assert!(super::text("security-updates").ends_with("within 10 days."));
        assert_eq!(
            super::text("description").replace(" and upgrades", ""),
            description_install_only()
        );
        // The checklist mentions what the install's summary does.
        let steps = items(key::PRODUCTION_READY)
            .iter()
            .map(|item| item.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        for item in [
            "TLS",
            "certbot",
            "--tls-cert",
            "first account",
            "system admin",
            "SMTP",
            "/opt/mattermost/data",
            "/opt/mattermost/config",
            "/opt/mattermost/plugins",
            "80 and 443",
            "security-updates",
        ] {
            assert!(steps.contains(item), "{item}");
        }
        assert!(steps.contains(INSTALL_DIR));
    }

    /// The data file: every statement and list item has a unique key, every key code selects
    /// is there, and every statement's rule finds the statement's own text (anchors are part of
    /// it, a loose rule's groups each name a phrase of it), in a README holding that text only.
    #[test]
    fn every_statement_has_a_unique_key_and_a_rule_that_finds_its_own_text() {
        let mut keys = std::collections::HashSet::new();
        let mut requirements = std::collections::HashSet::new();
        for spec in CATALOG.iter() {
            assert!(keys.insert(spec.key.as_str()), "duplicate key {}", spec.key);
            assert!(
                requirements.insert(spec.requirement.as_str()),
                "{}",
                spec.key
            );
            for item in &spec.items {
                assert!(keys.insert(item.key.as_str()), "duplicate key {}", item.key);
            }
            let lower = spec.text.to_lowercase();
            match &spec.rule {
                Rule::Exact { anchors, .. } | Rule::HeadingWithList { anchors } => {
                    assert!(!anchors.is_empty(), "{}", spec.key);
                    for anchor in anchors {
                        assert!(
                            lower.contains(&anchor.to_lowercase()),
                            "{}: {anchor}",
                            spec.key
                        );
                    }
                }
                Rule::Equivalence {
                    operating_systems,
                    anchors,
                } => {
                    assert_eq!(spec.text.matches(OS_PLACEHOLDER).count(), 1, "{}", spec.key);
                    assert!(!operating_systems.is_empty(), "{}", spec.key);
                    for anchor in anchors {
                        assert!(
                            lower.contains(&anchor.to_lowercase()),
                            "{}: {anchor}",
                            spec.key
                        );
                    }
                }
                Rule::Loose { groups } => {
                    for group in groups {
                        assert!(
                            group
                                .iter()
                                .any(|phrase| lower.contains(&phrase.to_lowercase())),
                            "{}: {group:?}",
                            spec.key
                        );
                    }
                }
            }
            assert_eq!(
                matches!(spec.rule, Rule::HeadingWithList { .. }),
                !spec.items.is_empty(),
                "{}: a list needs the heading-with-list rule, and that rule a list",
                spec.key
            );
            let (statement, _) = specs(Tier::Certified, Some("Example Linux"))
                .into_iter()
                .find(|(statement, _)| statement.key == spec.key)
                .unwrap();
            let alone = format!("# README\n\n{}\n", statement.text);
            let findings = check(&alone, Tier::Certified);
            assert!(
                findings.iter().all(|f| f.requirement != spec.requirement),
                "{}: {findings:?}",
                spec.key
            );
            assert_eq!(
                findings.len(),
                CATALOG.len() - 1,
                "{}: {findings:?}",
                spec.key
            );
        }
        for key in [key::OFFICIAL_DOCS, key::PRODUCTION_READY] {
            spec(key);
        }
        let steps: Vec<&str> = items(key::PRODUCTION_READY)
            .iter()
            .map(|item| item.key.as_str())
            .collect();
        for key in [key::TLS_STEP, key::FIRST_ACCOUNT_STEP] {
            assert!(steps.contains(&key), "{key}");
        }
    }

    #[test]
    fn the_equivalence_statement_names_the_os_or_every_equivalent() {
        let rocky = statements(Tier::Community, Some("Rocky Linux"));
        assert_eq!(rocky[0].text, equivalence_statement("Rocky Linux"));
        let all = &statements(Tier::Community, None)[0].text;
        for os in operating_systems() {
            assert!(all.contains(&equivalence_statement(os)), "{os}");
        }
        assert_eq!(all.lines().count(), operating_systems().len());
    }

    #[test]
    fn the_rendered_markdown_passes_its_own_check_for_every_tier() {
        for tier in Tier::ALL {
            for os in [None, Some("Rocky Linux"), Some("Oracle Linux Server")] {
                let markdown = render_markdown(tier, os);
                assert_eq!(check(&markdown, tier), [], "{tier} {os:?}\n{markdown}");
                for lower in Tier::ALL.into_iter().filter(|lower| *lower <= tier) {
                    assert_eq!(check(&markdown, lower), [], "{lower} in {tier}");
                }
            }
        }
    }

    #[test]
    fn rendered_markdown_is_wrapped_and_has_a_section_per_area() {
        let markdown = render_markdown(Tier::Certified, None);
        for line in markdown.lines() {
            // Only a line holding a single long word (a URL) may be longer.
            assert!(
                line.chars().count() <= WRAP_WIDTH || !line.trim().contains(' '),
                "{line}"
            );
        }
        for heading in [
            "### Installation",
            "### Documentation",
            "### Security updates",
            "### Branding",
            "### Upgrade",
        ] {
            assert_eq!(markdown.matches(heading).count(), 1, "{heading}");
        }
        assert!(!render_markdown(Tier::Registered, None).contains("### Upgrade"));
        assert!(!render_markdown(Tier::Community, None).contains("### Branding"));
    }

    #[test]
    fn line_wrapping_and_blockquotes_do_not_count() {
        let text = readme(Tier::Certified);
        for width in [30, 60, 200] {
            assert_eq!(check(&rewrap(&text, width), Tier::Certified), [], "{width}");
        }
        let quoted = format!(
            "Intro.\n\n> We highly recommend users subscribe to the Mattermost\n> security updates email list. When notified of a security update, the maintainers\n>   of this deployment solution will make an effort to update to the secure version\n> within 10 days.\n\n{}",
            text.replace(super::text("security-updates"), "")
        );
        assert_eq!(check(&quoted, Tier::Certified), []);
    }

    #[test]
    fn a_changed_word_is_an_altered_statement() {
        let text = readme(Tier::Registered).replace("within 10 days", "within 14 days");
        let findings = check(&text, Tier::Registered);
        assert_eq!(
            requirements(&findings),
            [(req("security-updates"), Problem::Altered)]
        );
        assert_eq!(findings[0].detail, "`10` changed to `14`");

        let text = readme(Tier::Community).replace("official documentation", "documentation");
        let findings = check(&text, Tier::Community);
        assert_eq!(
            requirements(&findings),
            [(req("official-docs"), Problem::Altered)]
        );
        assert_eq!(findings[0].detail, "`official` is missing");
    }

    #[test]
    fn an_altered_anchor_is_still_found() {
        // The anchor phrase itself changed: found by similarity alone.
        let text = readme(Tier::Registered)
            .replace("security updates email list", "security mailing list");
        let findings = check(&text, Tier::Registered);
        assert_eq!(
            requirements(&findings),
            [(req("security-updates"), Problem::Altered)]
        );
        assert!(
            findings[0]
                .detail
                .contains("`updates email` changed to `mailing`")
        );
    }

    #[test]
    fn a_removed_statement_is_missing() {
        let text = readme(Tier::Registered).replace(super::text("branding"), "");
        let rendered = render_markdown(Tier::Registered, None);
        // The rendered text is wrapped: remove the branding paragraph by its normalised form.
        let without: String = rendered
            .split("\n\n")
            .filter(|block| !block.contains("The name for this deployment solution"))
            .collect::<Vec<_>>()
            .join("\n\n");
        for text in [text, without] {
            let findings = check(&text, Tier::Registered);
            assert!(
                requirements(&findings).contains(&(req("branding"), Problem::Missing)),
                "{findings:?}"
            );
        }
        let findings = check("# Nothing here\n", Tier::Certified);
        assert_eq!(findings.len(), 8);
        assert!(
            findings
                .iter()
                .all(|finding| finding.problem == Problem::Missing)
        );
    }

    #[test]
    fn a_mention_of_an_anchor_alone_is_not_an_altered_statement() {
        let text = readme(Tier::Registered).replace(super::text("branding"), "")
            + "\nWe follow Mattermost's branding guidelines in our logo.\n";
        let findings = check(&text, Tier::Registered);
        assert_eq!(
            requirements(&findings),
            [(req("branding"), Problem::Missing)]
        );
    }

    #[test]
    fn the_description_may_leave_out_and_upgrades() {
        let text =
            readme(Tier::Community).replace(super::text("description"), description_install_only());
        assert_eq!(check(&text, Tier::Community), []);
        let text = readme(Tier::Community).replace("private cloud", "public cloud");
        assert_eq!(
            requirements(&check(&text, Tier::Community)),
            [(req("description"), Problem::Altered)]
        );
    }

    #[test]
    fn any_operating_system_may_be_named_but_every_sentence_must_be_exact() {
        let others = render(Tier::Community, None, usize::MAX)
            .split("\n\n")
            .filter(|block| !block.contains("This deployment uses"))
            .collect::<Vec<_>>()
            .join("\n\n");
        assert_eq!(
            requirements(&check(&others, Tier::Community)),
            [(req("rhel-equivalents"), Problem::Missing)]
        );
        let one = format!("{others}\n\n{}\n", equivalence_statement("Example Linux 9"));
        assert_eq!(check(&one, Tier::Community), []);
        let altered = format!(
            "{one}\nThis deployment uses Rocky Linux as an equivalent to the supported version of Red Hat Enterprise Linux.\n"
        );
        let findings = check(&altered, Tier::Community);
        assert_eq!(
            requirements(&findings),
            [(req("rhel-equivalents"), Problem::Altered)]
        );
        assert!(
            findings[0]
                .detail
                .contains("uses Rocky Linux as an equivalent to the supported"),
            "{}",
            findings[0].detail
        );
        let unnamed = format!(
            "{others}\n\nThis deployment uses as an equivalent to the officially supported version of Red Hat Enterprise Linux.\n"
        );
        assert_eq!(
            requirements(&check(&unnamed, Tier::Community)),
            [(req("rhel-equivalents"), Problem::Altered)]
        );
    }

    #[test]
    fn the_production_ready_sentence_needs_a_list() {
        let steps = format!(
            "{}\n\n1. {}",
            super::text(key::PRODUCTION_READY),
            items(key::PRODUCTION_READY)[0].text
        );
        let base = readme(Tier::Community);
        let start = base.find("Following automated").unwrap();
        let end = base.find("\n\nUnofficial").unwrap();
        let text = |replacement: &str| format!("{}{replacement}{}", &base[..start], &base[end..]);

        assert_eq!(check(&text(&steps), Tier::Community), []);
        assert_eq!(
            check(
                &text(&format!(
                    "{}\n- one step",
                    super::text(key::PRODUCTION_READY)
                )),
                Tier::Community
            ),
            []
        );
        let findings = check(
            &text(&format!(
                "{} Nothing else.",
                super::text(key::PRODUCTION_READY)
            )),
            Tier::Community,
        );
        assert_eq!(
            requirements(&findings),
            [(req("production-ready"), Problem::Missing)]
        );
        assert!(findings[0].detail.contains("no list"));
        let findings = check(
            &text(&steps.replace("are required", "are recommended")),
            Tier::Community,
        );
        assert_eq!(
            requirements(&findings),
            [(req("production-ready"), Problem::Altered)]
        );
    }

    #[test]
    fn loose_requirements_need_their_key_words_only() {
        let text =
            readme(Tier::Certified).replace(super::text("upgrade"), "Upgrades are automated.");
        let findings = check(&text, Tier::Certified);
        assert_eq!(
            requirements(&findings),
            [(req("upgrade"), Problem::Missing)]
        );
        assert!(findings[0].detail.contains("`mm-install upgrade`"));
        let text = readme(Tier::Certified).replace(
            super::text("upgrade"),
            "Run `mm-install upgrade --latest` to move to the latest release.",
        );
        assert_eq!(check(&text, Tier::Certified), []);
    }

    #[test]
    fn lower_tiers_do_not_require_higher_statements() {
        let community = readme(Tier::Community);
        assert_eq!(check(&community, Tier::Community), []);
        let missing = requirements(&check(&community, Tier::Certified));
        assert_eq!(
            missing,
            [
                (req("security-updates"), Problem::Missing),
                (req("branding"), Problem::Missing),
                (req("upgrade"), Problem::Missing),
            ]
        );
    }

    #[test]
    fn edits_name_the_changed_words() {
        let expected = ["a", "b", "c", "d", "e"];
        assert_eq!(
            describe_changes(&edits(&expected, &["a", "x", "c", "e", "f"])),
            "`b` changed to `x`; `d` is missing; `f` was added"
        );
        assert!((similarity(&expected, &expected) - 1.0).abs() < f64::EPSILON);
        assert!((similarity(&expected, &["a", "b", "c", "d"]) - 0.8).abs() < 1e-9);
    }

    #[test]
    fn wrapping_never_starts_a_line_with_markdown_syntax() {
        let wrapped = wrap("aaaa bbbb > cccc - dddd 10. eeee # ffff", 6);
        for line in wrapped.lines() {
            assert!(!starts_block(line.split(' ').next().unwrap()), "{wrapped}");
        }
        assert_eq!(wrap("1. one two three", 9), "1. one\n   two\n   three");
        assert_eq!(wrap("see `a b c` now", 6), "see\n`a b c`\nnow");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("README.md");
        let err = check_file(&path, Tier::Community).unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert!(err.to_string().contains(&path.display().to_string()));
        fs_err::write(&path, readme(Tier::Community)).unwrap();
        assert_eq!(check_file(&path, Tier::Community).unwrap(), []);
    }

    #[test]
    fn non_compliance_names_each_requirement() {
        let err = DocsError::NotCompliant {
            path: "README.md".into(),
            tier: Tier::Registered,
            findings: check("", Tier::Registered)
                .into_iter()
                .filter(|finding| finding.requirement.starts_with("Branding"))
                .collect(),
        };
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert_eq!(
            err.to_string(),
            "README.md does not meet the registered tier of the Deployment Solutions Program: Branding: name (missing)"
        );
        assert!(
            err.hint()
                .unwrap()
                .contains("mm-install docs --tier registered")
        );
    }
}
