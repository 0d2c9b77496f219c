//! What a process costs, read from `/proc`: CPU seconds (user + system, all threads) and resident memory (current
//! and the high-water mark), plus a description of the machine the benchmark ran on.

use std::fs;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know of when it cannot be asked).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = fs::read_to_string(&path)
        .with_context(|| format!("reading {path} (has the process exited?)"))?;
    parse_stat_cpu(&text)
        .map(|ticks| ticks / ticks_per_second())
        .with_context(|| format!("{path} does not have the expected fields: {text:?}"))
}

/// utime + stime in ticks from a `/proc/<pid>/stat` line (fields 14 and 15; the command name may hold spaces, so
/// fields are counted after the last `)`).
fn parse_stat_cpu(text: &str) -> Option<f64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")" comes field 3 (state), so utime (14) is index 11 and stime (15) index 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds the whole machine has been busy (all cores: user, nice, system, irq, softirq, steal), from the first
/// line of `/proc/stat`. The difference over a phase, less the processes the harness knows, is what other work on
/// the machine took: the benchmark's noise.
pub fn machine_busy_seconds() -> Result<f64> {
    let text = fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text.lines().next().context("/proc/stat is empty")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if v.len() < 8 {
        bail!("/proc/stat's first line has fewer than 8 fields: {line:?}");
    }
    // user nice system idle iowait irq softirq steal
    Ok((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks_per_second())
}

/// The 1-minute load average.
pub fn load_average() -> Result<f64> {
    let text = fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .with_context(|| format!("/proc/loadavg is not as expected: {text:?}"))
}

/// Resident memory of a process now and at its peak, in bytes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    /// `VmRSS`.
    pub rss: u64,
    /// `VmHWM`: the largest RSS the process ever had.
    pub peak: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path)
        .with_context(|| format!("reading {path} (has the process exited?)"))?;
    parse_status_memory(&text).with_context(|| format!("{path} has no VmRSS/VmHWM lines"))
}

fn parse_status_memory(text: &str) -> Option<Memory> {
    let kb = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let value: u64 = line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(value * 1024)
    };
    Some(Memory {
        rss: kb("VmRSS:")?,
        peak: kb("VmHWM:")?,
    })
}

/// The machine a benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `nproc`.
    pub cpus: usize,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory (`MemTotal`), bytes.
    pub memory_bytes: u64,
    /// `free -h`, verbatim.
    pub free_h: String,
    /// `uname -r`.
    pub kernel: String,
}

/// Describes this machine.
pub fn machine() -> Result<Machine> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?;
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown (no `model name` in /proc/cpuinfo)".into());
    let meminfo = fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    let memory_bytes = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .context("no MemTotal in /proc/meminfo")?;
    Ok(Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        memory_bytes,
        free_h: run_text("free", &["-h"])?,
        kernel: run_text("uname", &["-r"])?,
    })
}

fn run_text(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running `{program}`"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_even_with_spaces_in_the_name() {
        let line =
            "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_stat_cpu(line), Some(300.0));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn reads_memory_lines() {
        let text = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        let m = parse_status_memory(text).unwrap();
        assert_eq!((m.rss, m.peak), (1024 * 1024, 2048 * 1024));
        assert!(parse_status_memory("Name: x\n").is_none());
    }

    #[test]
    fn reads_the_machine() {
        assert!(machine_busy_seconds().unwrap() > 0.0);
        assert!(load_average().unwrap() >= 0.0);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(memory(pid).unwrap().rss > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
    }
}
