//! The releases feed: a JSON array shaped like GitHub's `GET /repos/{owner}/{repo}/releases`
//! (`tag_name`, `draft`, `prerelease`), by default Mattermost's own repository.

use serde::Deserialize;

use super::{ReleaseError, Version};

/// Mattermost's GitHub releases, newest first; `--releases-api` points at a mirror instead.
pub const DEFAULT_RELEASES_API: &str =
    "https://api.github.com/repos/mattermost/mattermost/releases?per_page=100";

#[derive(Deserialize)]
struct FeedEntry {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

/// Every stable (non-draft, non-prerelease, non-candidate) version in the feed, oldest first.
/// Entries whose tag is not a version (e.g. `desktop-5.0`) are skipped.
pub fn stable_versions(url: &str, body: &[u8]) -> Result<Vec<Version>, ReleaseError> {
    let entries: Vec<FeedEntry> =
        serde_json::from_slice(body).map_err(|err| ReleaseError::BadFeed {
            url: url.to_string(),
            reason: err.to_string(),
        })?;
    let mut versions: Vec<Version> = entries
        .into_iter()
        .filter(|entry| !entry.draft && !entry.prerelease)
        .filter_map(|entry| entry.tag_name.parse::<Version>().ok())
        .filter(|version| !version.is_release_candidate())
        .collect();
    versions.sort();
    versions.dedup();
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://mirror.test/releases";

    #[test]
    fn lists_only_stable_releases_oldest_first() {
        let body = br#"[
            {"tag_name": "v11.11.0-rc1", "draft": false, "prerelease": true},
            {"tag_name": "v11.12.0", "draft": true, "prerelease": false},
            {"tag_name": "v11.10.2", "draft": false, "prerelease": false, "name": "11.10.2"},
            {"tag_name": "v11.9.5", "draft": false, "prerelease": false},
            {"tag_name": "v11.10.0", "draft": false, "prerelease": false},
            {"tag_name": "desktop-v6.0.0", "draft": false, "prerelease": false}
        ]"#;
        let all: Vec<String> = stable_versions(URL, body)
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(all, ["11.9.5", "11.10.0", "11.10.2"]);
    }

    #[test]
    fn explains_bad_and_empty_feeds() {
        let err = stable_versions(URL, b"<html>rate limited</html>").unwrap_err();
        assert!(err.to_string().contains(URL), "{err}");
        let only_candidates = br#"[{"tag_name":"v1.0.0","prerelease":true}]"#;
        assert!(stable_versions(URL, only_candidates).unwrap().is_empty());
    }
}
