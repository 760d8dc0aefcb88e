//! `hoist generate-man DIR` (hidden; `make install` runs it): a man page for hoist and each subcommand, named
//! as podman's are: the page `hoist-images.1` has `hoist-images` in its NAME line (the page's name, what
//! `apropos` and `man hoist-images` find) and shows the command as typed, `hoist images`, in its SYNOPSIS,
//! as `podman-images(1)` shows `podman images`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::Result;

#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
}

pub fn run<C: CommandFactory>(a: Args) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    // Built once from the root, every subcommand knows its page name (`hoist-creds-list`, clap's display
    // name) and the words that call it (`hoist creds list`, its bin name); clap_mangen uses both.
    let mut root = C::command();
    root.build();
    write_man(&root, &a.dir)
}

fn write_man(cmd: &clap::Command, dir: &Path) -> Result<()> {
    // The footer names the program and its version on every page (clap_mangen's default: the subcommand's).
    let man = clap_mangen::Man::new(cmd.clone()).source(concat!("hoist ", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    std::fs::write(dir.join(man.get_filename()), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_man(sub, dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The pages as `make install` writes them, by file name.
    fn pages() -> std::collections::BTreeMap<String, String> {
        let dir = tempfile_dir();
        super::run::<crate::Cli>(super::Args { dir: dir.clone() }).unwrap();
        let out = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    /// A fresh directory under the system's temp dir, removed by the test.
    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hoist-man-test-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn nanos() -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    }

    /// The section `name` of a page: the lines after `.SH NAME` up to the next `.SH`.
    fn section<'a>(page: &'a str, name: &str) -> &'a str {
        let start = page.find(&format!(".SH {name}\n")).unwrap_or_else(|| panic!("no {name}: {page}"));
        let rest = &page[start + name.len() + 5..];
        &rest[..rest.find("\n.SH ").unwrap_or(rest.len())]
    }

    #[test]
    fn pages_are_named_as_podmans_and_show_the_command_as_typed() {
        let pages = pages();
        let images = &pages["hoist-images.1"];
        assert!(images.contains(&format!(".TH hoist-images 1  \"hoist {}\"", env!("CARGO_PKG_VERSION"))), "{images}");
        assert!(section(images, "NAME").starts_with("hoist\\-images \\- "), "{images}");
        assert!(section(images, "SYNOPSIS").starts_with("\\fBhoist images\\fR "), "{images}");
        let list = &pages["hoist-creds-list.1"];
        assert!(section(list, "NAME").starts_with("hoist\\-creds\\-list \\- "), "{list}");
        assert!(section(list, "SYNOPSIS").starts_with("\\fBhoist creds list\\fR "), "{list}");
        // The root page lists every visible subcommand's page, and each has one.
        let root = &pages["hoist.1"];
        for sub in crate::Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
            let page = format!("hoist-{}", sub.get_name());
            assert!(root.contains(&format!("{}(1)", page.replace('-', "\\-"))), "{page} in hoist.1");
            assert!(pages.contains_key(&format!("{page}.1")), "{page}.1");
        }
        assert!(!pages.contains_key("hoist-help.1") && !pages.contains_key("hoist-generate-man.1"));
    }
}
