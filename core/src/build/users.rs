//! User and group names as a build resolves them for `COPY --chown`, `ADD --chown` and the owner of a
//! directory `WORKDIR` creates: numbers are used as given; names are looked up in the image's own
//! `/etc/passwd` and `/etc/group` (never the host's). A user given without a group gets the user's primary
//! group from `/etc/passwd` (0 when the user is a number that file does not list), as docker and podman do.
//!
//! What it is not: reading those files out of the image (the caller gives their text).

/// Why an owner could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("{spec:?}: no user")]
    NoUser { spec: String },
    #[error("{spec:?}: empty group")]
    EmptyGroup { spec: String },
    /// `user` is neither a number nor a name in the image's `/etc/passwd` (`image_has_file`: it has one).
    #[error(
        "unable to find user {user}: no matching entries in the image's /etc/passwd{}",
        if *image_has_file { "" } else { " (the image has no /etc/passwd)" }
    )]
    UnknownUser { user: String, image_has_file: bool },
    /// `group` is neither a number nor a name in the image's `/etc/group`.
    #[error(
        "unable to find group {group}: no matching entries in the image's /etc/group{}",
        if *image_has_file { "" } else { " (the image has no /etc/group)" }
    )]
    UnknownGroup { group: String, image_has_file: bool },
}

/// A uid and gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

/// `name:x:uid:gid:...` lines: (name, uid, gid).
fn passwd_entries(text: &str) -> impl Iterator<Item = (&str, u64, u64)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.trim_start().starts_with('#') {
            return None;
        }
        Some((f[0], f[2].trim().parse().ok()?, f[3].trim().parse().ok()?))
    })
}

/// `name:x:gid:members` lines: (name, gid).
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.trim_start().starts_with('#') {
            return None;
        }
        Some((f[0], f[2].trim().parse().ok()?))
    })
}

/// Resolves `spec` (`user`, `user:group`, numbers or names). `passwd` and `group` are the image's files,
/// `None` when it has none. The error says what was not found, and where it was looked for.
pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<Owner, OwnerError> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(OwnerError::NoUser { spec: spec.to_owned() });
    }
    let (uid, primary) = match user.parse::<u64>() {
        Ok(uid) => {
            let primary = passwd.and_then(|p| passwd_entries(p).find(|e| e.1 == uid).map(|e| e.2)).unwrap_or(0);
            (uid, primary)
        }
        Err(_) => match passwd.and_then(|p| passwd_entries(p).find(|e| e.0 == user)) {
            Some((_, uid, gid)) => (uid, gid),
            None => {
                return Err(OwnerError::UnknownUser { user: user.to_owned(), image_has_file: passwd.is_some() });
            }
        },
    };
    let gid = match grp {
        None => primary,
        Some("") => return Err(OwnerError::EmptyGroup { spec: spec.to_owned() }),
        Some(g) => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => match group.and_then(|t| group_entries(t).find(|e| e.0 == g)) {
                Some((_, gid)) => gid,
                None => {
                    return Err(OwnerError::UnknownGroup { group: g.to_owned(), image_has_file: group.is_some() });
                }
            },
        },
    };
    Ok(Owner { uid, gid })
}

/// True when resolving `spec` needs the image's files (it names a user or group, or gives no group).
pub fn needs_lookup(spec: &str) -> bool {
    match spec.split_once(':') {
        Some((u, g)) => u.parse::<u64>().is_err() || g.parse::<u64>().is_err(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n\
                          www:x:1000:1000::/home/www:/bin/sh\nbroken line\n";
    const GROUP: &str = "root:x:0:\nnginx:x:101:\nstaff:x:50:\n";

    #[test]
    fn numbers_names_and_primary_groups() {
        let r = |s| resolve(s, Some(PASSWD), Some(GROUP));
        assert_eq!(r("1:2"), Ok(Owner { uid: 1, gid: 2 }));
        assert_eq!(r("nginx"), Ok(Owner { uid: 101, gid: 101 }));
        assert_eq!(r("nginx:staff"), Ok(Owner { uid: 101, gid: 50 }));
        assert_eq!(r("www:0"), Ok(Owner { uid: 1000, gid: 0 }));
        assert_eq!(r("1000"), Ok(Owner { uid: 1000, gid: 1000 }), "a listed uid gets its primary group");
        assert_eq!(r("4242"), Ok(Owner { uid: 4242, gid: 0 }));
        assert_eq!(resolve("7:8", None, None), Ok(Owner { uid: 7, gid: 8 }));
        assert_eq!(
            r("nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in the image's /etc/passwd"
        );
        assert_eq!(
            r("www:wheel").unwrap_err(),
            OwnerError::UnknownGroup { group: "wheel".into(), image_has_file: true }
        );
        assert_eq!(
            resolve("www", None, None).unwrap_err().to_string(),
            "unable to find user www: no matching entries in the image's /etc/passwd (the image has no /etc/passwd)"
        );
        assert_eq!(r(":1").unwrap_err(), OwnerError::NoUser { spec: ":1".into() });
        assert_eq!(r("www:").unwrap_err().to_string(), "\"www:\": empty group");
        assert!(needs_lookup("www") && needs_lookup("1") && needs_lookup("1:g") && !needs_lookup("1:2"));
    }
}
