//! Defects a reviewer found on the pages (demo street 鸿城街道), each with
//! the test that would have caught it.

use serde_json::json;

use crate::browser::{browser_available, Browser as Chromium};

/// A scan answered "nobody in this street has this number", then the
/// walk-in registered for that person without pressing Undo: the walk-in
/// takes the scan back first, so the tube holds one swab of that person.
#[tokio::test]
async fn browser_station_walk_in_takes_back_an_unregistered_number_first() {
    if !browser_available("browser_station_walk_in_takes_back_an_unregistered_number_first") {
        return;
    }
    let (w, _) = crate::browser::world(&[]).await;
    let issued = w
        .srv
        .post(
            &format!("/api/v1/points/{}/stations", w.points[0]),
            &json!({}),
        )
        .json();
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Chromium::start(profile.path().to_path_buf());
    b.enrol_station(&origin, &issued);
    let id = gw_domain::idnumber::IdNumber::compose(
        "220102",
        gw_domain::date::Date::new(1980, 5, 17).unwrap(),
        731,
    )
    .unwrap();
    b.scan_keys("W0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0'");
    b.scan_keys(id.as_str());
    b.wait("the number answered as nobody's", "document.getElementById('waiting').textContent === '0' && document.getElementById('tube-fill').textContent.indexOf('2/') === 0 && document.getElementById('feedback').dataset.kind === 'bad'");
    assert!(
        b.text("#fb-text").contains("本街道没有此证件号"),
        "{}",
        b.text("#fb-text")
    );
    // The walk-in form, without pressing Undo.
    b.exec(
        "document.getElementById('walk-in-button').click();
         document.getElementById('walk-in-name').value = '过路人';
         document.getElementById('walk-in-phone').value = '13904310000';
         document.getElementById('walk-in').requestSubmit();",
        json!([]),
    );
    b.wait("the walk-in stored", "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok' && document.getElementById('fb-detail').textContent.indexOf('已撤销上一个') >= 0");
    assert_eq!(
        b.text("#tube-fill"),
        "2/10",
        "the server's count: the resident and the walk-in, the number taken back ({})",
        b.text("#fb-detail")
    );
    b.screenshot("station-walk-in-after-unregistered", 360);
}
