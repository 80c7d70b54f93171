//! Zellij on the host: installing the embedded picker plugin and its keybinding (`install`),
//! driving the `zellij` CLI for `napsh web` (`web`), and `napsh web`'s own files (`web_files`).

pub mod install;
pub mod web;
pub mod web_files;
