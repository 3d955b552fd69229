//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the `migrations/`
//! directories at compile time, and cargo does not watch a directory's new files on its own.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
