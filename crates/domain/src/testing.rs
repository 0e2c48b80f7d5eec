//! Testing rounds, pure parts: personal codes (个人码), tube barcodes, the tube
//! state machine and pool-size advice. No IO; keys and time come in.
//!
//! ## Personal code format, version 1 (printed codes outlive software versions)
//!
//! `GW1-{street}-{uid}-{key}-{generation}-{signature}`, upper-case, e.g.
//! `GW1-7-K3QX8ZMA2B4C6D7E-1-0-KTSAZKYM9KHW` (signed with the test key
//! `street-7-key-1-secret-material`; see `version_1_codes_are_pinned`):
//! - `GW1`: format and version;
//! - `street`: the street id (decimal), where the resident is registered;
//! - `uid`: the resident's opaque 16-character id (no personal data);
//! - `key`: which server key signed it (decimal), so keys can rotate;
//! - `generation`: incremented to revoke a lost code and issue a new one;
//! - `signature`: HMAC-SHA256(key, body), the body being the code's text before
//!   the last `-` (`GW1-7-K3QX8ZMA2B4C6D7E-1-0` above, the uid upper-case).
//!   Of the MAC's first 8 bytes read as a big-endian 64-bit number, the top 4
//!   bits are dropped and the 60 below them are written as 12 characters of
//!   [`ALPHABET`] (digits and upper-case letters without I, L, O, U), 5 bits
//!   each, most significant first: in Python,
//!   `v = int.from_bytes(mac[:8], "big") & (2**60 - 1)`, then character `i`
//!   is `ALPHABET[(v >> (55 - 5*i)) & 31]`. Only the server, holding the
//!   key, makes or checks one.
//!
//! Upper-case letters, digits and `-` only: the QR alphanumeric mode, and what a
//! keyboard-wedge scanner types on any keyboard layout.
//! The three numbers are written in decimal with no sign and no leading zero
//! (`0` itself excepted); a reader refuses any other spelling of them.

use sha2::{Digest, Sha256};

/// Base-32 alphabet for signatures: digits and upper-case letters without I, L, O, U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn signature(key: &[u8], body: &str) -> String {
    let mac = hmac_sha256(key, body.as_bytes());
    let mut acc: u64 = 0;
    for b in &mac[..8] {
        acc = (acc << 8) | u64::from(*b);
    }
    (0..12)
        .map(|i| ALPHABET[((acc >> (59 - 5 * i - 4)) & 31) as usize] as char)
        .collect()
}

/// A decoded, not yet verified personal code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalCode {
    pub street: i64,
    pub uid: String,
    pub key_id: u32,
    pub generation: u32,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("不是网格卫士个人码 / not a Gridwarden personal code")]
    NotACode,
    #[error("个人码版本 {0} 不受支持 / personal code version {0} is not supported")]
    Version(String),
    #[error("个人码签名无效（伪造或抄错）/ the code's signature is wrong (forged or mistyped)")]
    BadSignature,
    #[error("密钥 {0} 未知或已停用：请其出示新打印的码单，或按证件号登记 / signing key {0} is unknown or retired: ask for the newly printed code sheet, or register by document number")]
    UnknownKey(u32),
}

impl PersonalCode {
    fn body(&self) -> String {
        format!(
            "GW1-{}-{}-{}-{}",
            self.street,
            self.uid.to_uppercase(),
            self.key_id,
            self.generation
        )
    }

    /// Makes a signed code.
    pub fn issue(key_id: u32, key: &[u8], street: i64, uid: &str, generation: u32) -> PersonalCode {
        let mut c = PersonalCode {
            street,
            uid: uid.to_uppercase(),
            key_id,
            generation,
            signature: String::new(),
        };
        c.signature = signature(key, &c.body());
        c
    }

    /// The text printed in the QR code and typed by scanners.
    pub fn text(&self) -> String {
        format!("{}-{}", self.body(), self.signature)
    }

    /// Decodes the shape only (an offline station can do this without keys).
    pub fn decode(raw: &str) -> Result<PersonalCode, CodeError> {
        let t = crate::text::squeeze(raw).to_uppercase();
        let parts: Vec<&str> = t.split('-').collect();
        let Some(version) = parts.first() else {
            return Err(CodeError::NotACode);
        };
        if !version.starts_with("GW") {
            return Err(CodeError::NotACode);
        }
        if *version != "GW1" {
            return Err(CodeError::Version(version[2..].to_string()));
        }
        let [_, street, uid, key, generation, sig] = parts.as_slice() else {
            return Err(CodeError::NotACode);
        };
        let ok_uid = uid.len() == 16 && uid.bytes().all(|b| b.is_ascii_alphanumeric());
        let ok_sig = sig.len() == 12 && sig.bytes().all(|b| ALPHABET.contains(&b));
        match (
            canonical_number(street),
            canonical_number(key),
            canonical_number(generation),
        ) {
            (Some(street), Some(key_id), Some(generation)) if ok_uid && ok_sig => {
                Ok(PersonalCode {
                    street,
                    uid: uid.to_string(),
                    key_id,
                    generation,
                    signature: sig.to_string(),
                })
            }
            _ => Err(CodeError::NotACode),
        }
    }

    /// Checks the signature with the keys in service (`key id → secret`).
    pub fn verify(&self, keys: &[(u32, Vec<u8>)]) -> Result<(), CodeError> {
        let key = keys
            .iter()
            .find(|(id, _)| *id == self.key_id)
            .ok_or(CodeError::UnknownKey(self.key_id))?;
        let want = signature(&key.1, &self.body());
        // Constant-time comparison.
        let diff = want
            .bytes()
            .zip(self.signature.bytes())
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff == 0 && want.len() == self.signature.len() {
            Ok(())
        } else {
            Err(CodeError::BadSignature)
        }
    }
}

/// A number of a code's text as the code writes it: decimal digits, no sign
/// and no leading zero (`0` itself excepted). Another spelling of the same
/// number (`01`, `+0`) is a changed character, refused like any other, not
/// read as the printed code.
fn canonical_number<T: std::str::FromStr>(s: &str) -> Option<T> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits && (s == "0" || !s.starts_with('0')) {
        s.parse().ok()
    } else {
        None
    }
}

/// How a walk-in's swab is flagged until the community matches them to the
/// registered resident they are (then the flag goes: see the store's
/// `move_testing_records`); what else was wrong follows it after `；`.
pub const WALK_IN_PROBLEM: &str = "临时人员（不在名单上，待核实）/ walk-in on no roster: pending";

/// How tube barcodes are checked (labs and batches differ: configurable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarcodeRule {
    pub min_len: usize,
    pub max_len: usize,
    /// The last digit is a Luhn (MOD 10) check digit.
    pub luhn: bool,
    /// A barcode marked with its point (`BASE~POINT`: a tube an offline
    /// station opened under a label another point's tube has) is accepted,
    /// its base checked. Only for finding tubes already opened.
    pub marked: bool,
}

impl Default for BarcodeRule {
    fn default() -> Self {
        BarcodeRule {
            min_len: 8,
            max_len: 20,
            luhn: false,
            marked: false,
        }
    }
}

impl BarcodeRule {
    /// The shape of any barcode a street's settings allow (4 to 40 letters or
    /// digits, no check): for finding tubes already opened (in a bag, in the
    /// lab's file), which must exist anyway, so a tube opened under an
    /// earlier rule is still found after the street changes its rule.
    pub fn lookup() -> BarcodeRule {
        BarcodeRule {
            min_len: 4,
            max_len: 40,
            luhn: false,
            marked: true,
        }
    }

    /// The check character's name as settings carry it (`none`, `luhn`).
    pub fn check_name(&self) -> &'static str {
        if self.luhn {
            "luhn"
        } else {
            "none"
        }
    }
}

/// Check characters a street's tube barcodes may carry.
pub const TUBE_CHECKS: [&str; 2] = ["none", "luhn"];

/// A street's testing settings: how its tube barcodes are checked (at the
/// station, on the server, in packing and in the lab's file) and the largest
/// pool its lab accepts (rounds and pool-size advice stay within it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestingSettings {
    pub tube: BarcodeRule,
    pub lab_max_pool: u32,
}

impl Default for TestingSettings {
    fn default() -> Self {
        TestingSettings {
            tube: BarcodeRule::default(),
            lab_max_pool: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("管码长度须在 4 到 40 之间且最短不大于最长 / tube barcode lengths must lie within 4..=40, shortest first (got {0}..={1})")]
    Lengths(usize, usize),
    #[error("校验方式只能是 none 或 luhn / the check must be none or luhn (got {0:?})")]
    Check(String),
    #[error("实验室最大混采数只能是 1、5、10 或 20 / the lab's largest pool must be 1, 5, 10 or 20 (got {0})")]
    LabMax(u32),
}

impl TestingSettings {
    /// Validated settings.
    pub fn new(
        min_len: usize,
        max_len: usize,
        check: &str,
        lab_max_pool: u32,
    ) -> Result<TestingSettings, SettingsError> {
        if !(4..=40).contains(&min_len) || !(min_len..=40).contains(&max_len) {
            return Err(SettingsError::Lengths(min_len, max_len));
        }
        let luhn = match check {
            "none" => false,
            "luhn" => true,
            other => return Err(SettingsError::Check(other.to_string())),
        };
        if !POOL_SIZES.contains(&lab_max_pool) {
            return Err(SettingsError::LabMax(lab_max_pool));
        }
        Ok(TestingSettings {
            tube: BarcodeRule {
                min_len,
                max_len,
                luhn,
                marked: false,
            },
            lab_max_pool,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("{}", length_text(*.0, *.1, *.2))]
    Length(usize, usize, usize),
    #[error("条码含非法字符 / barcode has characters other than letters and digits")]
    Characters,
    #[error("这是个人码，不是采样管条码 / this is a personal code, not a tube barcode")]
    PersonalCode,
    #[error("条码被 Excel 变成了数字（{0}）：请把该列设为文本后重新导出 / Excel turned the barcode into a number ({0}): format the column as text and export again")]
    AsNumber(String),
    #[error("条码校验位错误（扫错或污损）/ barcode check digit wrong (misread or damaged)")]
    Check,
    #[error("本街道的采样管条码带 Luhn 校验位，只能是数字 / this street's tube barcodes carry a Luhn check digit: digits only")]
    NotDigits,
}

fn length_text(len: usize, min: usize, max: usize) -> String {
    if min == max {
        format!("条码长度 {len}，应为 {min} 位 / barcode length {len}: it must be {min} characters")
    } else {
        format!("条码长度 {len}，应为 {min}–{max} 位 / barcode length {len}: it must be {min} to {max} characters")
    }
}

/// A validated tube barcode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TubeBarcode(String);

/// Whether a string of digits ends in its right Luhn check digit.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// `1.00002E+9`: what Excel shows (and a CSV it saved holds) for a long
/// number in a general column; the digits past the sixth are gone.
fn looks_like_excel_number(t: &str) -> bool {
    let Some((mantissa, exp)) = t.split_once("E+") else {
        return false;
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => digits(a) && digits(b),
        None => digits(mantissa),
    };
    mantissa_ok && digits(exp)
}

impl TubeBarcode {
    pub fn parse(raw: &str, rule: &BarcodeRule) -> Result<TubeBarcode, BarcodeError> {
        let t = crate::text::squeeze(raw).to_uppercase();
        if rule.marked {
            if let Some((base, point)) = t.split_once('~') {
                if point.is_empty() || !point.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(BarcodeError::Characters);
                }
                let base = TubeBarcode::parse(
                    base,
                    &BarcodeRule {
                        marked: false,
                        ..rule.clone()
                    },
                )?;
                return Ok(TubeBarcode(format!("{}~{point}", base.0)));
            }
        }
        if t.starts_with("GW") && t.split('-').count() >= 6 {
            return Err(BarcodeError::PersonalCode);
        }
        if looks_like_excel_number(&t) {
            return Err(BarcodeError::AsNumber(t));
        }
        if !(rule.min_len..=rule.max_len).contains(&t.len()) {
            return Err(BarcodeError::Length(
                t.chars().count(),
                rule.min_len,
                rule.max_len,
            ));
        }
        if !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BarcodeError::Characters);
        }
        if rule.luhn && !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BarcodeError::NotDigits);
        }
        if rule.luhn && !luhn_ok(&t) {
            return Err(BarcodeError::Check);
        }
        Ok(TubeBarcode(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a tube is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TubeState {
    Open,
    Closed,
    Sealed,
    Boxed,
    HandedOver,
    Received,
    Resulted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("采样管不能从 {from:?} 变为 {to:?} / a tube cannot go from {from:?} to {to:?}")]
pub struct IllegalMove {
    pub from: TubeState,
    pub to: TubeState,
}

impl TubeState {
    /// The state as stored (`tube.state`).
    pub fn name(self) -> &'static str {
        use TubeState::*;
        match self {
            Open => "open",
            Closed => "closed",
            Sealed => "sealed",
            Boxed => "boxed",
            HandedOver => "handed_over",
            Received => "received",
            Resulted => "resulted",
        }
    }

    /// The state in Chinese, for a volunteer.
    pub fn label_zh(self) -> &'static str {
        use TubeState::*;
        match self {
            Open => "使用中",
            Closed => "已封管",
            Sealed => "已装袋",
            Boxed => "已装箱",
            HandedOver => "已交接",
            Received => "实验室已接收",
            Resulted => "已出结果",
        }
    }

    /// The stored state's value.
    pub fn parse(name: &str) -> Option<TubeState> {
        use TubeState::*;
        [Open, Closed, Sealed, Boxed, HandedOver, Received, Resulted]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// The states a tube may come to this one from, as the storage moves
    /// it: each step of the chain from the one before; the lab may receive a
    /// box whose hand-over was never scanned (the count report shows that
    /// break); a result is recorded whatever the tube's state (the lab has
    /// the tube: a step the point skipped is named with the result).
    pub fn comes_from(self) -> &'static [TubeState] {
        use TubeState::*;
        match self {
            Open => &[],
            Closed => &[Open],
            Sealed => &[Closed],
            Boxed => &[Sealed],
            HandedOver => &[Boxed],
            Received => &[HandedOver, Boxed],
            Resulted => &[Open, Closed, Sealed, Boxed, HandedOver, Received],
        }
    }

    /// `('a', 'b')`: [`Self::comes_from`] as an SQL list.
    pub fn comes_from_sql(self) -> String {
        let names: Vec<String> = self
            .comes_from()
            .iter()
            .map(|s| format!("'{}'", s.name()))
            .collect();
        format!("({})", names.join(", "))
    }

    /// Packed at the point (in a bag) or further along.
    pub fn packed(self) -> bool {
        !matches!(self, TubeState::Open | TubeState::Closed)
    }

    /// The one legal successor of each state (closing a full tube and closing
    /// by hand are the same move).
    pub fn next(self) -> Option<TubeState> {
        use TubeState::*;
        Some(match self {
            Open => Closed,
            Closed => Sealed,
            Sealed => Boxed,
            Boxed => HandedOver,
            HandedOver => Received,
            Received => Resulted,
            Resulted => return None,
        })
    }
    pub fn move_to(self, to: TubeState) -> Result<TubeState, IllegalMove> {
        if self.next() == Some(to) {
            Ok(to)
        } else {
            Err(IllegalMove { from: self, to })
        }
    }
    /// Swabs can still be added.
    pub fn accepts_swabs(self) -> bool {
        self == TubeState::Open
    }
}

/// A round's life: planned → open → sampling closed → results complete → closed.
pub const ROUND_STATES: [&str; 5] = [
    "planned",
    "open",
    "sampling_closed",
    "results_complete",
    "closed",
];

/// A planned round called off (made by mistake, twice, or no longer
/// wanted): it never opens, holds nothing, and leaves every list of rounds
/// that count (history, comparison). Only a planned round is cancelled.
pub const CANCELLED: &str = "cancelled";

/// A round that changes no more: closed (its figures are its record) or
/// cancelled (it never began). Pages offer none of the changes the store
/// refuses then.
pub fn round_settled(state: &str) -> bool {
    state == "closed" || state == CANCELLED
}

/// The earliest and latest instants a round may start or end (1970 to
/// 2100): a date outside is a typing or clock mistake.
pub const ROUND_TIME_RANGE_MS: std::ops::RangeInclusive<i64> = 0..=4_102_444_800_000;

/// A round's state as people say it, `(中文, English)`; an unknown word
/// comes back as it is, twice.
pub fn round_state_words(state: &str) -> (&str, &str) {
    match state {
        "planned" => ("计划中", "planned"),
        "open" => ("采样中", "open for sampling"),
        "sampling_closed" => ("已停止采样", "sampling closed"),
        "results_complete" => ("结果已齐", "results complete"),
        "closed" => ("已结束", "closed"),
        CANCELLED => ("已取消", "cancelled"),
        other => (other, other),
    }
}

/// The one state a round in `from` may move to next (`None`: closed, or no
/// such state).
pub fn round_next(from: &str) -> Option<&'static str> {
    let i = ROUND_STATES.iter().position(|s| *s == from)?;
    ROUND_STATES.get(i + 1).copied()
}

/// Whether a round may move from `from` to `to` (one step forward only, or
/// a planned one cancelled).
pub fn round_move_ok(from: &str, to: &str) -> bool {
    if to == CANCELLED {
        return from == "planned";
    }
    let i = ROUND_STATES.iter().position(|s| *s == from);
    let j = ROUND_STATES.iter().position(|s| *s == to);
    matches!((i, j), (Some(i), Some(j)) if j == i + 1)
}

/// Why a swab was taken (`registration.purpose`): the round's sampling at a
/// point or at the door, a single-tube retest of an abnormal pool's member,
/// a re-sample of an invalid tube's member.
pub const PURPOSES: [&str; 4] = ["routine", "door_to_door", "retest", "resample"];

/// A purpose as people say it, `(中文, English)` (`routine` → 混采, pooled
/// sampling); an unknown word comes back as it is, twice.
pub fn purpose_words(purpose: &str) -> (&str, &str) {
    match purpose {
        "routine" => ("混采", "pooled sampling"),
        "door_to_door" => ("上门采样", "door-to-door"),
        "retest" => ("单管复检", "single-tube retest"),
        "resample" => ("重采", "re-sample"),
        other => (other, other),
    }
}

/// The purposes of the round's sampling: a resident's first swab of either
/// counts them sampled, and a later one of either is its duplicate.
pub const SAMPLING_PURPOSES: [&str; 2] = ["routine", "door_to_door"];

/// Whether a swab of `purpose` is one of the round's sampling (see
/// [`SAMPLING_PURPOSES`]).
pub fn is_sampling(purpose: &str) -> bool {
    SAMPLING_PURPOSES.contains(&purpose)
}

/// [`SAMPLING_PURPOSES`] as an SQL list: `('routine', 'door_to_door')`.
pub fn sampling_sql() -> String {
    let quoted: Vec<String> = SAMPLING_PURPOSES.iter().map(|p| format!("'{p}'")).collect();
    format!("({})", quoted.join(", "))
}

/// Why a resident is not expected to be sampled in a round.
pub const EXEMPTION_REASONS: [&str; 4] = [
    // 不在本市
    "away",
    // 住院
    "in_hospital",
    // 已隔离并在隔离点检测
    "isolated_tested_there",
    // 已故
    "deceased",
];

/// An exemption's reason in Chinese and English ("住院 in hospital"); a
/// reason not in [`EXEMPTION_REASONS`] (a purged one) as it is.
pub fn exemption_label(reason: &str) -> String {
    match reason {
        "away" => "不在本市 away from the city".into(),
        "in_hospital" => "住院 in hospital".into(),
        "isolated_tested_there" => "已隔离并在隔离点检测 isolated and tested there".into(),
        "deceased" => "已故 deceased".into(),
        "moved_out" => "迁出本街道 moved out of the street".into(),
        other => other.to_string(),
    }
}

/// Pooling modes a round may use.
pub const POOL_SIZES: [u32; 4] = [1, 5, 10, 20];

/// Expected tests per person with Dorfman pooling of size `k` at prevalence `p`:
/// one test per pool, plus every member retested when the pool is positive.
pub fn dorfman_tests_per_person(k: u32, p: f64) -> f64 {
    if k <= 1 {
        return 1.0;
    }
    let k = f64::from(k);
    1.0 / k + 1.0 - (1.0 - p).powf(k)
}

/// Pool-size advice: the allowed size (at most `lab_max`) with the fewest
/// expected tests per person, and the saving against single tubes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolAdvice {
    pub pool_size: u32,
    pub tests_per_person: f64,
    /// Fraction of tests saved compared with one tube per person.
    pub saving: f64,
}

pub fn advise_pool_size(prevalence: f64, lab_max: u32) -> PoolAdvice {
    let p = prevalence.clamp(0.0, 1.0);
    let best = POOL_SIZES
        .iter()
        .copied()
        .filter(|k| *k <= lab_max.max(1))
        .map(|k| (k, dorfman_tests_per_person(k, p)))
        .fold(
            (1, 1.0),
            |best, cur| if cur.1 < best.1 - 1e-12 { cur } else { best },
        );
    PoolAdvice {
        pool_size: best.0,
        tests_per_person: best.1,
        saving: 1.0 - best.1,
    }
}

/// The person-level abnormal rate implied by pool outcomes: the maximum
/// likelihood estimate over all pools at once, a pool of `k` being abnormal
/// with probability `1 - (1-p)^k`. (Estimating each pool size apart and
/// averaging fails on the small groups real rounds have: one abnormal pool of
/// eleven swabs, the only tube that held eleven, would say p = 1.)
/// `(k, pools, abnormal pools)`; `None` when there are none.
pub fn estimate_prevalence(outcomes: &[(u32, u64, u64)]) -> Option<f64> {
    let groups: Vec<(f64, f64, f64)> = outcomes
        .iter()
        .filter(|o| o.0 > 0 && o.1 > 0)
        .map(|&(k, n, x)| (f64::from(k), n as f64, x.min(n) as f64))
        .collect();
    if groups.is_empty() {
        return None;
    }
    let abnormal: f64 = groups.iter().map(|g| g.2).sum();
    let negative: f64 = groups.iter().map(|g| g.1 - g.2).sum();
    if abnormal == 0.0 {
        return Some(0.0);
    }
    if negative == 0.0 {
        return Some(1.0);
    }
    // The log-likelihood's slope in p falls from +∞ to -∞ over (0, 1):
    // halve the interval around its zero.
    let slope = |p: f64| -> f64 {
        let s = 1.0 - p;
        groups
            .iter()
            .map(|&(k, n, x)| x * k * s.powf(k - 1.0) / (1.0 - s.powf(k)) - (n - x) * k / s)
            .sum()
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if slope(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo + hi) / 2.0)
}

/// Fewer swabs than this with a result, and the street's rate is too
/// uncertain to advise a pool size on.
pub const MIN_SWABS_FOR_ADVICE: u64 = 100;

/// The swabs the pool-size advice reads, newest rounds first: enough for a
/// rate, few enough that an outbreak shows in the next advice (all rounds
/// alike would keep a rising rate low for weeks).
pub const ADVICE_WINDOW_SWABS: u64 = 1_000;

/// What a round's pools came to: `(pool size, tubes, abnormal tubes)`.
pub type PoolOutcome = (u32, u64, u64);

/// How many of `rounds` (newest first, each its outcomes) the advice reads:
/// the newest whose swabs together first reach `window`, or all of them
/// when they never do.
pub fn advice_window(rounds: &[Vec<PoolOutcome>], window: u64) -> usize {
    let mut swabs = 0;
    for (i, r) in rounds.iter().enumerate() {
        swabs += r.iter().map(|o| u64::from(o.0) * o.1).sum::<u64>();
        if swabs >= window {
            return i + 1;
        }
    }
    rounds.len()
}

/// The rounds the advice reads at least, newest first: a testing round a
/// day over a street is ten thousand swabs or more, so a window of swabs
/// alone would read one round and forget an abnormal pool the day after.
pub const ADVICE_ROUNDS: usize = 4;

/// What the pool-size advice is read from, and the rate it takes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdviceBasis {
    /// How many of the newest rounds it reads: the newest
    /// [`ADVICE_ROUNDS`], and more until their swabs reach
    /// [`ADVICE_WINDOW_SWABS`] (all when they never do).
    pub rounds: usize,
    /// Over those rounds: their pools, swabs and abnormal pools.
    pub tubes: u64,
    pub swabs: u64,
    pub abnormal: u64,
    /// The rate over those rounds together.
    pub window_rate: Option<f64>,
    /// How many of the newest rounds first reach [`ADVICE_WINDOW_SWABS`]
    /// swabs, and the rate over them alone.
    pub recent_rounds: usize,
    pub recent_rate: Option<f64>,
    /// The rate the advice takes: the higher of the two, so a rate that
    /// rises shows in the next advice and one that falls is remembered for
    /// [`ADVICE_ROUNDS`] rounds (a smaller pool is the safe side).
    pub rate: Option<f64>,
}

/// The advice's basis from each round's pool outcomes, newest round first.
pub fn advice_basis(rounds: &[Vec<PoolOutcome>]) -> AdviceBasis {
    let recent_rounds = advice_window(rounds, ADVICE_WINDOW_SWABS);
    let n = recent_rounds.max(ADVICE_ROUNDS.min(rounds.len()));
    let window: Vec<PoolOutcome> = rounds[..n].concat();
    let window_rate = estimate_prevalence(&window);
    let recent_rate = estimate_prevalence(&rounds[..recent_rounds].concat());
    let rate = match (window_rate, recent_rate) {
        (Some(w), Some(r)) => Some(w.max(r)),
        (w, r) => w.or(r),
    };
    AdviceBasis {
        rounds: n,
        tubes: window.iter().map(|o| o.1).sum(),
        swabs: window.iter().map(|o| u64::from(o.0) * o.1).sum(),
        abnormal: window.iter().map(|o| o.2.min(o.1)).sum(),
        window_rate,
        recent_rounds,
        recent_rate,
        rate,
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    const KEY: &[u8] = b"street-7-key-1-secret-material";

    #[test]
    fn every_purpose_has_words() {
        for p in PURPOSES {
            let (zh, en) = purpose_words(p);
            assert!(!zh.is_ascii() && en.is_ascii() && en != p, "{p}: {zh} {en}");
        }
        assert_eq!(purpose_words("other"), ("other", "other"));
    }

    #[test]
    fn a_round_moves_one_state_forward() {
        assert_eq!(round_next("planned"), Some("open"));
        assert_eq!(round_next("results_complete"), Some("closed"));
        assert_eq!(round_next("closed"), None);
        assert_eq!(round_next("bogus"), None);
        assert!(round_move_ok("open", "sampling_closed") && !round_move_ok("open", "closed"));
    }

    #[test]
    fn sampling_is_routine_and_door_to_door_only() {
        let sampling: Vec<&str> = PURPOSES.into_iter().filter(|p| is_sampling(p)).collect();
        assert_eq!(sampling, ["routine", "door_to_door"]);
        assert!(!is_sampling("Routine") && !is_sampling(""));
        // The list the migration of `registration_first_swab` spells.
        assert_eq!(sampling_sql(), "('routine', 'door_to_door')");
    }

    /// Printed codes outlive this software: version 1 is pinned here, with
    /// texts computed independently by following the module's documentation
    /// (Python's `hmac` over the body, bits 4 to 63 of the MAC's first 8
    /// bytes in the base 32 of [`ALPHABET`]). A change that breaks these
    /// breaks every code already on paper.
    #[test]
    fn version_1_codes_are_pinned() {
        let cases = [
            (KEY, 1, 0, "GW1-7-K3QX8ZMA2B4C6D7E-1-0-KTSAZKYM9KHW"),
            (
                &b"street-7-key-2-rotated"[..],
                2,
                3,
                "GW1-7-K3QX8ZMA2B4C6D7E-2-3-YFRSFCEMQWKF",
            ),
        ];
        for (key, key_id, generation, printed) in cases {
            let c = PersonalCode::issue(key_id, key, 7, "k3qx8zma2b4c6d7e", generation);
            assert_eq!(c.text(), printed);
            let d = PersonalCode::decode(printed).unwrap();
            assert_eq!(d.verify(&[(key_id, key.to_vec())]), Ok(()));
        }
    }

    #[test]
    fn testing_settings_are_validated() {
        let s = TestingSettings::new(10, 12, "luhn", 10).unwrap();
        assert_eq!(s.tube.check_name(), "luhn");
        assert!(TubeBarcode::parse("79927398713", &s.tube).is_ok());
        assert_eq!(
            TubeBarcode::parse("79927398710", &s.tube),
            Err(BarcodeError::Check)
        );
        assert_eq!(
            TubeBarcode::parse("799273987", &s.tube),
            Err(BarcodeError::Length(9, 10, 12))
        );
        assert_eq!(
            TestingSettings::new(12, 10, "none", 10),
            Err(SettingsError::Lengths(12, 10))
        );
        assert_eq!(
            TestingSettings::new(3, 10, "none", 10),
            Err(SettingsError::Lengths(3, 10))
        );
        assert_eq!(
            TestingSettings::new(8, 20, "mod11", 10),
            Err(SettingsError::Check("mod11".into()))
        );
        assert_eq!(
            TestingSettings::new(8, 20, "none", 8),
            Err(SettingsError::LabMax(8))
        );
        assert_eq!(
            TestingSettings::new(8, 20, "none", 20).unwrap(),
            TestingSettings::default()
        );
    }

    #[test]
    fn codes_round_trip_and_verify() {
        let c = PersonalCode::issue(1, KEY, 7, "k3qx8zma2b4c6d7e", 0);
        let text = c.text();
        assert!(text.starts_with("GW1-7-K3QX8ZMA2B4C6D7E-1-0-"), "{text}");
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'));
        let d = PersonalCode::decode(&text.to_lowercase()).unwrap();
        assert_eq!(d, c);
        assert_eq!(d.verify(&[(1, KEY.to_vec())]), Ok(()));
        // Another key, a forged signature, a bumped generation: refused.
        assert_eq!(
            d.verify(&[(2, KEY.to_vec())]),
            Err(CodeError::UnknownKey(1))
        );
        assert_eq!(
            d.verify(&[(1, b"other".to_vec())]),
            Err(CodeError::BadSignature)
        );
        let mut g = d.clone();
        g.generation = 1;
        assert_eq!(g.verify(&[(1, KEY.to_vec())]), Err(CodeError::BadSignature));
        // Revocation: a new generation makes a different code.
        assert_ne!(
            PersonalCode::issue(1, KEY, 7, "k3qx8zma2b4c6d7e", 1).text(),
            text
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn decoding_rejects_garbage_and_other_versions() {
        assert_eq!(
            PersonalCode::decode("220102199003071234"),
            Err(CodeError::NotACode)
        );
        assert_eq!(
            PersonalCode::decode("GW2-7-K3QX8ZMA2B4C6D7E-1-0-AAAAAAAAAAAA"),
            Err(CodeError::Version("2".into()))
        );
        assert_eq!(
            PersonalCode::decode("GW1-7-SHORT-1-0-AAAAAAAAAAAA"),
            Err(CodeError::NotACode)
        );
        assert_eq!(PersonalCode::decode(""), Err(CodeError::NotACode));
    }

    #[test]
    fn only_the_printed_spelling_of_a_code_is_read() {
        let c = PersonalCode::issue(1, KEY, 7, "k3qx8zma2b4c6d7e", 0);
        let text = c.text();
        assert_eq!(PersonalCode::decode(&text), Ok(c.clone()));
        let [v, street, uid, key, generation, sig] = text.split('-').collect::<Vec<_>>()[..] else {
            panic!("{text}")
        };
        // The same numbers spelt otherwise (a leading zero, a sign, a space
        // inside): another text, refused as a changed character would be.
        for (street, key, generation) in [
            ("07", key, generation),
            ("+7", key, generation),
            (street, "01", generation),
            (street, "+1", generation),
            (street, key, "00"),
            (street, key, "+0"),
            (street, key, "-0"),
            (street, key, ""),
        ] {
            let other = format!("{v}-{street}-{uid}-{key}-{generation}-{sig}");
            assert_eq!(
                PersonalCode::decode(&other),
                Err(CodeError::NotACode),
                "{other}"
            );
        }
        // A generation past 9 is written as it is.
        let g = PersonalCode::issue(1, KEY, 7, "k3qx8zma2b4c6d7e", 10);
        assert_eq!(PersonalCode::decode(&g.text()), Ok(g));
    }

    #[test]
    fn barcodes() {
        let rule = BarcodeRule::default();
        assert_eq!(
            TubeBarcode::parse(" a1234567 ", &rule).unwrap().as_str(),
            "A1234567"
        );
        assert_eq!(
            TubeBarcode::parse("123", &rule),
            Err(BarcodeError::Length(3, 8, 20))
        );
        assert_eq!(
            TubeBarcode::parse("1.00002E+9", &rule),
            Err(BarcodeError::AsNumber("1.00002E+9".into()))
        );
        assert_eq!(
            TubeBarcode::parse("GW1-7-K3QX8ZMA2B4C6D7E-1-0-KTSAZKYM9KHW", &rule),
            Err(BarcodeError::PersonalCode)
        );
        assert_eq!(
            TubeBarcode::parse("1234-5678", &rule),
            Err(BarcodeError::Characters)
        );
        let luhn = BarcodeRule { luhn: true, ..rule };
        assert!(TubeBarcode::parse("79927398713", &luhn).is_ok());
        assert_eq!(
            TubeBarcode::parse("79927398710", &luhn),
            Err(BarcodeError::Check)
        );
        // Letters cannot carry a Luhn digit: said so, not "check digit wrong".
        assert_eq!(
            TubeBarcode::parse("ABC12345", &luhn),
            Err(BarcodeError::NotDigits)
        );
        // A tube kept marked with its point is found by the lookup rule only,
        // its base checked as any barcode.
        let lookup = BarcodeRule::lookup();
        assert_eq!(
            TubeBarcode::parse("a1234567~12", &lookup).unwrap().as_str(),
            "A1234567~12"
        );
        assert!(TubeBarcode::parse("A1234567~12", &rule).is_err());
        assert!(TubeBarcode::parse("A1234567~", &lookup).is_err());
        assert!(TubeBarcode::parse("A1234567~X", &lookup).is_err());
        assert!(TubeBarcode::parse("A1~12", &lookup).is_err());
    }

    #[test]
    fn rounds_move_one_step_forward() {
        assert!(round_move_ok("planned", "open"));
        assert!(round_move_ok("results_complete", "closed"));
        assert!(!round_move_ok("open", "closed"));
        assert!(!round_move_ok("open", "planned"));
        assert!(!round_move_ok("closed", "planned"));
        assert!(!round_move_ok("open", "banana"));
        // Only a planned round is cancelled, and a cancelled one goes nowhere.
        assert!(round_move_ok("planned", CANCELLED));
        assert!(!round_move_ok("open", CANCELLED));
        assert!(!round_move_ok(CANCELLED, "open") && !round_move_ok(CANCELLED, CANCELLED));
        assert_eq!(round_next(CANCELLED), None);
        assert_eq!(round_state_words(CANCELLED), ("已取消", "cancelled"));
        assert!(round_settled("closed") && round_settled(CANCELLED) && !round_settled("planned"));
    }

    #[test]
    fn tube_moves_only_forward_one_step() {
        let t = TubeState::Open.move_to(TubeState::Closed).unwrap();
        assert!(t.move_to(TubeState::Boxed).is_err());
        // Every state's stored name reads back; the storage's moves follow
        // the chain, with the two allowances documented.
        for s in TubeState::Resulted.comes_from() {
            assert_eq!(TubeState::parse(s.name()), Some(*s));
            if let Some(n) = s.next() {
                assert!(n.comes_from().contains(s), "{s:?} → {n:?}");
            }
        }
        assert_eq!(
            TubeState::Received.comes_from_sql(),
            "('handed_over', 'boxed')"
        );
        assert!(!TubeState::Closed.packed() && TubeState::Sealed.packed());
        assert!(t.move_to(TubeState::Open).is_err());
        assert!(TubeState::Resulted.next().is_none());
        assert!(TubeState::Open.accepts_swabs() && !TubeState::Sealed.accepts_swabs());
    }

    #[test]
    fn advice_reads_the_newest_rounds_that_reach_the_window() {
        // An outbreak: the newest round, 101 tubes of 10 with half abnormal,
        // is a thousand swabs alone; the calm round before it is left out.
        let rounds = vec![vec![(10, 101, 51)], vec![(10, 162, 2)]];
        assert_eq!(advice_window(&rounds, ADVICE_WINDOW_SWABS), 1);
        let now = estimate_prevalence(&rounds[0]).unwrap();
        let all: Vec<_> = rounds.concat();
        let blended = estimate_prevalence(&all).unwrap();
        assert!(now > 3.0 * blended, "{now} against {blended}");
        assert!(advise_pool_size(now, 10).pool_size < advise_pool_size(blended, 10).pool_size);
        // Small rounds are read together until they reach it; all of them
        // when they never do.
        let small = vec![
            vec![(10, 30, 0)],
            vec![(5, 100, 1)],
            vec![(10, 50, 0)],
            vec![(10, 50, 0)],
        ];
        // 300 + 500 swabs are short of a thousand; the third round reaches it.
        assert_eq!(advice_window(&small, ADVICE_WINDOW_SWABS), 3);
        assert_eq!(advice_window(&small[..2], ADVICE_WINDOW_SWABS), 2);
        assert_eq!(advice_window(&[], ADVICE_WINDOW_SWABS), 0);
    }

    #[test]
    fn advice_remembers_an_abnormal_pool_for_four_rounds() {
        // A round a day of 12,000 swabs: round 2 had one abnormal pool of
        // ten, rounds 1 and 3 none. After round 3 the advice still reads
        // round 2, and says so.
        let day = |abnormal: u64| vec![(10, 1_200, abnormal)];
        let after_3 = vec![day(0), day(1), day(0)];
        let b = advice_basis(&after_3);
        assert_eq!((b.rounds, b.recent_rounds), (3, 1));
        assert_eq!((b.tubes, b.swabs, b.abnormal), (3_600, 36_000, 1));
        assert_eq!(b.recent_rate, Some(0.0));
        let rate = b.rate.unwrap();
        assert!(rate > 2.0e-5 && rate < 3.5e-5, "{rate}");
        assert_eq!(b.window_rate, b.rate);
        // Four rounds on, it is out of the window.
        let later = vec![day(0), day(0), day(0), day(0), day(1)];
        let b = advice_basis(&later);
        assert_eq!((b.rounds, b.abnormal, b.rate), (4, 0, Some(0.0)));
        // A rise shows at once: the newest round alone is read when its rate
        // is higher than the window's.
        let rising = vec![vec![(10, 1_200, 60)], day(0), day(0), day(0)];
        let b = advice_basis(&rising);
        assert_eq!(b.rate, b.recent_rate);
        assert!(b.rate.unwrap() > 3.0 * b.window_rate.unwrap());
        // Small rounds: more than four until a thousand swabs.
        let small: Vec<Vec<PoolOutcome>> = (0..6).map(|_| vec![(5, 40, 0)]).collect();
        let b = advice_basis(&small);
        assert_eq!((b.rounds, b.recent_rounds, b.swabs), (5, 5, 1_000));
        // Fewer rounds than four: all of them; none: no rate.
        assert_eq!(advice_basis(&small[..2]).rounds, 2);
        let none = advice_basis(&[]);
        assert_eq!((none.rounds, none.rate), (0, None));
    }

    #[test]
    fn prevalence_from_pool_outcomes() {
        assert_eq!(estimate_prevalence(&[]), None);
        assert_eq!(estimate_prevalence(&[(10, 100, 0)]), Some(0.0));
        // Single tubes: the rate is the rate.
        assert!((estimate_prevalence(&[(1, 1000, 10)]).unwrap() - 0.01).abs() < 1e-12);
        // 10-in-1 with 1 pool in 100 abnormal: p = 1 - 0.99^(1/10) ≈ 0.001.
        let p = estimate_prevalence(&[(10, 100, 1)]).unwrap();
        assert!((p - (1.0 - 0.99f64.powf(0.1))).abs() < 1e-12, "{p}");
        // Pools of several fills at once: the one abnormal pool of eleven
        // among 31 swabs is a rate near 1 in 31, not 1 (as each fill's group
        // taken apart said).
        let p = estimate_prevalence(&[(11, 1, 1), (10, 1, 0), (5, 2, 0)]).unwrap();
        assert!(p > 0.02 && p < 0.06, "{p}");
        // Every pool abnormal: as high as it goes.
        assert_eq!(estimate_prevalence(&[(10, 3, 3)]), Some(1.0));
        // Two sizes with the same rate behind them agree with it.
        let q = |k: f64| 1.0 - 0.998f64.powf(k);
        let p = estimate_prevalence(&[
            (10, 100_000, (q(10.0) * 100_000.0) as u64),
            (5, 100_000, (q(5.0) * 100_000.0) as u64),
        ])
        .unwrap();
        assert!((p - 0.002).abs() < 0.0002, "{p}");
    }

    #[test]
    fn dorfman_advice() {
        // At 0.1% prevalence, 20-in-1 saves most, if the lab takes it.
        let a = advise_pool_size(0.001, 20);
        assert_eq!(a.pool_size, 20);
        assert!(a.saving > 0.9);
        assert_eq!(advise_pool_size(0.001, 10).pool_size, 10);
        // At 30% pooling does not pay.
        assert_eq!(advise_pool_size(0.3, 20).pool_size, 1);
        assert!(
            (dorfman_tests_per_person(10, 0.01) - (0.1 + 1.0 - 0.99f64.powi(10))).abs() < 1e-12
        );
        // Somewhere between, 5-in-1 wins.
        assert_eq!(advise_pool_size(0.05, 20).pool_size, 5);
    }
}
