//! The scanning station: one page, driven by `station.js` with the station's
//! device token (kept in the browser), the JSON scan API, and a queue in
//! IndexedDB behind a service worker. The HTML carries no data: it is the same
//! for every station, so the service worker can keep it for offline reloads.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{asset_version, Lang, Page};

/// Messages the script shows, in the page's language.
fn messages(l: Lang) -> serde_json::Value {
    let t = |zh: &str, en: &str| l.t(zh, en).to_string();
    json!({
        "scan_tube": t("请扫描采样管条码", "Scan the tube's barcode"),
        "scan_code": t("请扫描居民码或输入证件号", "Scan a personal code or type a document number"),
        "tube_open": t("已换新管", "New tube"),
        "tube_full": t("本管已满，请扫描新管条码", "Tube full: scan the next tube's barcode"),
        "bad_tube": t("不是本街道的采样管条码（长度、字符或校验位不对），请重扫", "Not a tube barcode of this street (length, characters or check digit): scan again"),
        "ok": t("登记成功", "Registered"),
        "queued": t("已保存在本机，联网后自动上传", "Saved on this device: it uploads when the network is back"),
        "duplicate": t("此人本轮已采过样", "Already sampled in this round"),
        "at_point": t("采样点", "point"),
        "problem": t("请核实", "Check this"),
        "held": t("服务器没有收下，已保留在本机，处理后可重新上传", "The server did not take it: kept on this device, to send again once sorted out"),
        "other_point": t("此扫码属于另一个采样点（本设备已改登记），已保留在本机；回原采样点登记后重新上传", "This scan belongs to another point (this device was enrolled elsewhere since): kept on this device; enrol at that point again and send it"),
        "same_tube": t("这是本管的条码，不是居民码（重复扫描），未登记", "That is this tube's own barcode, not a personal code (read twice): not registered"),
        "person_no_tube": t("这是居民码或身份证号：请先扫描采样管条码，再扫居民码", "That is a personal code or an ID number: scan a tube's barcode first, then people's codes"),
        "person_not_tube": t("这是居民码或身份证号，不是采样管条码：本管已满，请先扫描新管条码", "That is a personal code or an ID number, not a tube barcode: this tube is full, scan the next tube's barcode first"),
        "follow_up_retest": t("该管已出结果（混管异常）：此人须单管复检，其户已临时管控，请通知社区", "This tube's result is in (abnormal pool): this person needs a single-tube retest and their household is under temporary control: tell the community"),
        "follow_up_resample": t("该管已出结果（无效）：此人须重采", "This tube's result is in (invalid): this person must be swabbed again"),
        "online": t("在线", "Online"),
        "offline": t("离线：扫码照常保存在本机", "Offline: scans are kept on this device"),
        "waiting": t("待上传", "Waiting to upload"),
        "uploaded": t("已全部上传", "Everything is uploaded"),
        "uploaded_problems": t("已上传：请查看下方上传时发现的问题", "Uploaded: look at the problems found when uploading, below"),
        "uploaded_detail": t("本机没有待上传的扫码", "Nothing is waiting on this device"),
        "revoked": t("本设备的授权已失效，请向采样点负责人要新的登记码；未上传的扫码会保留", "This station's token is no longer valid: ask the point's manager for a new enrolment code. Queued scans are kept."),
        "enrolled": t("登记成功，可以开始扫码", "Enrolled: ready to scan"),
        "enroll_failed": t("登记码无效、已使用或已过期，请向采样点负责人要新的", "This enrolment code is unknown, used or expired: ask the point's manager for a new one"),
        "network": t("无法连接服务器，请检查网络后重试", "Cannot reach the server: check the network and try again"),
        "sync_problems": t("上传时发现的问题", "Problems found when uploading"),
        "stuck": t("无法开启此采样管，这些扫码保留在本机", "This tube could not be opened: its scans are kept on this device"),
        "walk_in": t("临时人员", "walk-in"),
        // A walk-in's swab with nothing else wrong: done at the station,
        // the community checks who it was later.
        "walk_in_problem": gw_app::testing::walk_in_problem(""),
        "walk_in_ok": t("已登记临时人员", "Walk-in registered"),
        "walk_in_phone": t("电话不对：手机号11位（13-19开头），固话连区号10至12位；不知道可不填", "Phone not valid: a mobile has 11 digits (starting 13-19), a landline 10 to 12 with its area code; leave it empty if unknown"),
        "walk_in_later": t("社区稍后核实身份", "the community checks who they are later"),
        "resident": t("居民", "resident"),
        "retest_due": t("注意：请先处理下面的提示", "Stop: act on the note below first"),
        "tube": t("管内", "tube"),
        "tube_warning": t("注意此采样管", "Check this tube"),
        "tube_continued": t("继续使用此管（管内已有样本）", "This tube is continued (it holds swabs already)"),
        "tube_closed": t("此管已封管，不能再装样本：本样本已登记并标注，请换新管并扫描新管条码", "This tube is closed and takes no more swabs: this swab is recorded and flagged; take a new tube and scan its barcode"),
        "rescan": t("未登记：请重新扫描此人的个人码或证件", "Not registered: scan the person's code or document again"),
        "rescan_walk_in": t("未登记：请核对临时人员信息后重新登记", "Not registered: check the walk-in's details and register again"),
        "rescan_later": t("服务器未登记（已从本机删除）：此人若已采样，请补扫其个人码", "Not registered by the server (removed from this device): if this person was swabbed, scan their code again"),
        "retype": t("证件号有误：请按「撤销上一个」撤销此条，核对后重新输入", "The document number has a typing mistake: press Undo last scan to take it back, check it and type it again"),
        "unregistered": t("本街道没有此证件号：请按「撤销上一个」撤销此条，再按「临时人员」登记此人（若是新采样管条码，撤销后按「换管」）", "Nobody in this street has this number: press Undo last scan, then register the person as a walk-in (a new tube's barcode: undo, then press New tube)"),
        "undo": t("撤销上一个", "Undo last scan"),
        "undo_confirm": t("再按一次撤销：", "Press again to take back:"),
        "undone": t("已撤销", "Taken back"),
        "undone_unregistered": t("已撤销上一个（未登记的证件号）", "The last scan (a number nobody here has) was taken back"),
        "undone_local": t("尚未上传，已从本机删除", "not uploaded yet: removed from this device"),
        "undo_failed": t("未能撤销", "Not taken back"),
        "undo_queued": t("撤销已保存在本机，联网后自动上传", "the take-back is kept on this device: it uploads when the network is back"),
        "undo_reason": t("站点撤销：扫错码或扫码后未采样", "undone at the station: wrong code, or scanned and not swabbed"),
    })
}

pub async fn station(page: Page) -> Response {
    let l = page.lang;
    let msgs = messages(l).to_string().replace("</", "<\\/");
    let body = format!(
        r#"<div id="station" class="station" data-lang="{lang}">
<section id="enroll" class="card narrow" hidden><h1>{eh}</h1><p>{ep}</p>
<form id="enroll-form" class="stack"><label>{el}<input id="enroll-code" autocomplete="off" required></label><button class="primary" type="submit">{eb}</button></form>
<p id="enroll-msg" class="error" role="alert"></p></section>
<section id="scan" hidden>
<div class="status"><span id="net" class="net">…</span><span id="waiting-box">{lw} <b id="waiting">0</b></span></div>
<div class="where"><span id="point-name"></span> · <span id="round-name"></span></div>
<div class="counts"><div><span>{lt}</span><b id="tube-barcode">—</b><b id="tube-fill" class="big">0/0</b></div><div><span>{lp}</span><b id="point-count" class="big">0</b></div></div>
<div id="feedback" class="feedback idle" role="status" aria-live="assertive"><span id="fb-text">{ready}</span><small id="fb-detail"></small></div>
<form id="scan-form" autocomplete="off"><label class="purpose">{lu} <select id="purpose" name="purpose"><option value="routine">{pr}</option><option value="door_to_door">{pd}</option><option value="retest">{pt}</option><option value="resample">{ps}</option></select></label>
<label for="code" id="prompt">{prompt}</label>
<input id="code" name="code" inputmode="text" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus>
<div class="actions"><button class="primary" type="submit">{ok}</button><button type="button" id="new-tube" accesskey="n">{nt}</button><button type="button" id="walk-in-button">{wb}</button><button type="button" id="camera-button" hidden>{cam}</button><button type="button" id="undo" hidden>{undo}</button></div></form>
<form id="walk-in" class="card stack" autocomplete="off" hidden><p class="hint">{wh}</p><label>{wn}<input id="walk-in-name" maxlength="40"></label><label>{wp}<input id="walk-in-phone" inputmode="tel" maxlength="20"></label><button class="primary" type="submit">{ws}</button></form>
<video id="camera" class="camera" playsinline muted hidden></video>
<section id="problems" class="card" hidden><h2>{sp}</h2><ul id="problem-list" class="list"></ul><div class="actions"><button type="button" id="resend-held" hidden>{rh}</button><button type="button" id="clear-problems">{cp}</button></div></section>
<p class="hint">{hint}</p>
</section></div>
<script id="gw-msgs" type="application/json">{msgs}</script>
<script src="/assets/station.js?v={v}" defer></script>"#,
        lang = l.t("zh", "en"),
        eh = l.t("扫码设备登记", "Enrol this station"),
        ep = l.t(
            "输入采样点负责人给的一次性登记码（或直接打开登记链接）。",
            "Type the one-time enrolment code from the point's manager (or open the enrolment link)."
        ),
        el = l.t("登记码", "Enrolment code"),
        eb = l.t("登记", "Enrol"),
        lw = l.t("待上传", "Waiting"),
        rh = l.t("重新上传未收下的扫码", "Send the held scans again"),
        lt = l.t("当前管", "Tube"),
        lp = l.t("本点已采人次", "Swabs taken here"),
        ready = l.t("准备就绪", "Ready"),
        prompt = l.t("请扫描采样管条码", "Scan the tube's barcode"),
        lu = l.t("下一管用于", "Next tube for"),
        pr = l.t("混采", "pooled sampling"),
        pd = l.t("上门采样", "door-to-door"),
        pt = l.t("单管复检（一人一管）", "single-tube retest (one person)"),
        ps = l.t("重采（原管无效）", "re-sample (tube was invalid)"),
        ok = l.t("确定", "OK"),
        nt = l.t("换管", "New tube"),
        cam = l.t("摄像头扫码", "Camera"),
        undo = l.t("撤销上一个", "Undo last scan"),
        wb = l.t("临时人员", "Walk-in"),
        wh = l.t(
            "无码、名单上查不到的人：登记姓名和电话，待社区核实（有证件的请直接输入证件号）。",
            "Someone with no code and on no roster: their name and phone, for the community to check (with an ID card, type its number instead)."
        ),
        wn = l.t("姓名", "Name"),
        wp = l.t("电话", "Phone"),
        ws = l.t("登记入当前管", "Register into this tube"),
        sp = l.t("上传时发现的问题", "Problems found when uploading"),
        cp = l.t("已处理，清除", "Handled: clear"),
        hint = l.t(
            "扫码枪扫完会自动回车；也可手动输入后按回车。断网时扫码保存在本机，联网后自动上传且只上传一次。",
            "A scanner types the code and Enter; you can also type and press Enter. Offline, scans stay on this device and upload exactly once when the network is back."
        ),
        v = asset_version(),
    );
    page.render(StatusCode::OK, l.t("采样点扫码", "Scanning station"), &body)
}
