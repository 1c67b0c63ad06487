//! Where an interval's files are: templated paths (`s3://b/live/{{yyyyMMdd}}/{{HHmm}}`)
//! expanded per interval, and `s3://BUCKET/KEY`, `file://PATH` or plain paths resolved against a
//! local folder laid out like S3 (`DIR/BUCKET/KEY`).

use std::path::{Path, PathBuf};

use crate::time::{Zone, format_java};

/// Expands every `{{pattern}}` of a templated path for the interval starting at `start`, in the
/// metric set's zone. The pattern inside the braces is any Java date pattern (`yyyyMMdd`, `HHmm`,
/// `yyyy`, `MM`, `dd`, `HH`, `mm`, `yyyy-MM-dd`, ...).
pub fn expand_template(template: &str, start: i64, zone: Zone) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("templated path {template:?} has an unclosed {{{{"))?;
        let pattern = &after[..close];
        if pattern.is_empty() {
            return Err(format!("templated path {template:?} has an empty {{{{}}}}"));
        }
        out.push_str(&format_java(start, pattern, zone)?);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The placeholders a templated path uses, e.g. `["yyyyMMdd", "HHmm"]`.
pub fn template_placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                out.push(&after[..close]);
                rest = &after[close + 2..];
            }
            None => break,
        }
    }
    out
}

/// Resolves data paths to local files.
#[derive(Debug, Clone)]
pub struct LocalResolver {
    buckets_dir: PathBuf,
}

impl LocalResolver {
    /// `s3://BUCKET/KEY` becomes `buckets_dir/BUCKET/KEY`; `file://` and plain paths are used
    /// as they are (plain relative paths are relative to `buckets_dir`).
    pub fn new(buckets_dir: impl Into<PathBuf>) -> Self {
        LocalResolver {
            buckets_dir: buckets_dir.into(),
        }
    }

    /// The local path a data path names (a file, a folder or a key prefix). An `s3://` path
    /// stays inside its bucket's folder: a `..` segment is refused (permission denied).
    pub fn local_path(&self, path: &str) -> std::io::Result<PathBuf> {
        if let Some(rest) = path.strip_prefix("s3://") {
            if rest.split('/').any(|segment| segment == "..") {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{path}: a .. segment would leave the buckets folder"),
                ));
            }
            return Ok(self.buckets_dir.join(rest.trim_start_matches('/')));
        }
        if let Some(rest) = path.strip_prefix("file://") {
            return Ok(PathBuf::from(rest));
        }
        let p = Path::new(path);
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.buckets_dir.join(p)
        })
    }

    /// Every file under a path with S3 semantics: the object itself, every object under the
    /// "folder", or every object whose key starts with the prefix. Sorted, so reads are
    /// repeatable. An empty list means nothing is there.
    pub fn list(&self, path: &str) -> std::io::Result<Vec<PathBuf>> {
        let local = self.local_path(path)?;
        let mut out = Vec::new();
        // A path ending in / names a folder, never a key prefix (as in S3).
        let folder = path.ends_with('/');
        if local.is_file() && !folder {
            out.push(local);
        } else if local.is_dir() {
            walk(&local, &mut out)?;
        } else if !folder
            && let (Some(parent), Some(prefix)) = (local.parent(), local.file_name())
            && parent.is_dir()
        {
            let prefix = prefix.to_string_lossy().into_owned();
            for entry in std::fs::read_dir(parent)? {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let p = entry.path();
                    if p.is_dir() {
                        walk(&p, &mut out)?;
                    } else {
                        out.push(p);
                    }
                }
            }
        }
        // An s3:// object is a file inside its bucket's folder: a link out of it is not one.
        if path.starts_with("s3://")
            && let Ok(root) = self.buckets_dir.canonicalize()
        {
            out.retain(|f| f.canonicalize().is_ok_and(|c| c.starts_with(&root)));
        }
        out.sort();
        Ok(out)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_613_275_200; // 2021-02-14T04:00:00Z

    #[test]
    fn templates_expand_per_interval() {
        let cases = [
            (
                "s3://b/live/{{yyyyMMdd}}/{{HHmm}}",
                "s3://b/live/20210214/0400",
            ),
            (
                "s3://b/{{yyyy}}/{{MM}}/{{dd}}/{{HH}}/",
                "s3://b/2021/02/14/04/",
            ),
            (
                "s3://b/day={{yyyy-MM-dd}}/hour={{HH}}",
                "s3://b/day=2021-02-14/hour=04",
            ),
            ("s3://b/static/", "s3://b/static/"),
        ];
        for (template, want) in cases {
            assert_eq!(expand_template(template, T, Zone::UTC).unwrap(), want);
        }
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(
            expand_template("s3://b/{{yyyyMMdd}}/{{HH}}", T, ny).unwrap(),
            "s3://b/20210213/23"
        );
        assert!(expand_template("s3://b/{{yyyy", T, Zone::UTC).is_err());
        assert!(expand_template("s3://b/{{}}", T, Zone::UTC).is_err());
        assert_eq!(
            template_placeholders("s3://b/{{yyyyMMdd}}/{{HHmm}}"),
            vec!["yyyyMMdd", "HHmm"]
        );
    }

    #[test]
    fn s3_paths_resolve_under_the_buckets_folder() {
        let dir = tempfile::tempdir().unwrap();
        let r = LocalResolver::new(dir.path());
        let live = dir.path().join("b/live/20210214/0400");
        std::fs::create_dir_all(&live).unwrap();
        std::fs::write(live.join("part-2.csv"), "x").unwrap();
        std::fs::write(live.join("part-1.csv"), "x").unwrap();
        std::fs::write(live.join(".hidden"), "x").unwrap();
        std::fs::write(dir.path().join("b/history-2020.csv"), "x").unwrap();
        std::fs::write(dir.path().join("b/history-2021.csv"), "x").unwrap();

        let files = r.list("s3://b/live/20210214/0400").unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["part-1.csv", "part-2.csv"]);
        assert_eq!(r.list("s3://b/history-").unwrap().len(), 2, "key prefix");
        assert_eq!(r.list("s3://b/").unwrap().len(), 4, "whole bucket");
        assert!(r.list("s3://b/live/20210214/0500").unwrap().is_empty());
        assert!(r.list("s3://nobucket/x").unwrap().is_empty());
        let abs = format!("file://{}", live.join("part-1.csv").display());
        assert_eq!(r.list(&abs).unwrap().len(), 1);
        // A trailing slash names a folder, not a key prefix.
        assert!(r.list("s3://b/history/").unwrap().is_empty());
        assert!(r.list("s3://b/liv/").unwrap().is_empty());
    }

    #[test]
    fn an_s3_path_stays_inside_its_buckets_folder() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.csv"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = LocalResolver::new(dir.path());
        std::fs::create_dir_all(dir.path().join("b/in")).unwrap();
        std::fs::write(dir.path().join("b/in/ok.csv"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("b/in/link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.csv"),
            dir.path().join("b/in/file-link.csv"),
        )
        .unwrap();
        let names: Vec<_> = r
            .list("s3://b/in/")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["ok.csv"]);
        assert!(r.list("s3://b/in/link/").unwrap().is_empty());
        assert!(r.list("s3://b/../../etc/passwd").is_err());
    }
}
