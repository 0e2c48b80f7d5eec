//! The OpenAPI 3.0 document for `/api/v1`, written by hand and checked against
//! the route table by a test.

use serde_json::{json, Value};

fn err_responses() -> Value {
    json!({
        "400": { "description": "bad request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "404": { "description": "not found", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "409": { "description": "conflict", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "415": { "description": "the body is not application/json", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "422": { "description": "the JSON body does not have the documented shape", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "401": { "description": "not logged in", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "403": { "description": "forbidden", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "503": { "description": "database unavailable", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    })
}

/// A person on a missed list: the masked resident, and whether a re-sample
/// is why they are there.
fn missed_person() -> Value {
    json!({ "allOf": [{ "$ref": "#/components/schemas/Resident" }, { "type": "object", "required": ["resample_due"], "properties": {
        "resample_due": { "type": "boolean", "description": "swabbed in the round, but every swab in a tube the lab found invalid (no result): missed until the re-sample swab is registered" },
        "reason": { "type": "string", "description": "with resample_due only: 待重采（原管无效）/ re-sample due (tube invalid)" } } }] })
}

fn ok(schema: Value) -> Value {
    let mut r = err_responses();
    r["200"] =
        json!({ "description": "ok", "content": { "application/json": { "schema": schema } } });
    r
}

fn created(schema: Value) -> Value {
    let mut r = err_responses();
    r["201"] = json!({ "description": "created", "content": { "application/json": { "schema": schema } } });
    r
}

fn q(name: &str, ty: &str, desc: &str, required: bool) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": desc, "schema": { "type": ty } })
}

fn path_id(desc: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": desc, "schema": { "type": "string", "pattern": "^[0-9]+-[0-9]+$" }, "example": "1-1" })
}

fn schedule_schema() -> Value {
    json!({ "type": "object", "required": ["round", "stored", "points", "plan", "call_down", "simulation"], "properties": {
        "round": { "type": "string" }, "round_name": { "type": "string" }, "street": { "type": "integer" }, "stored": { "type": "boolean" },
        "revision": { "type": "integer", "nullable": true }, "planned_ms": { "type": "integer", "nullable": true }, "planned_by": { "type": "string", "nullable": true },
        "points": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "name": { "type": "string" }, "community": { "type": "string" }, "compound": { "type": "string", "nullable": true },
            "stations": { "type": "integer" }, "opens_ms": { "type": "integer" }, "closes_ms": { "type": "integer" }, "configured_rate": { "type": "number" },
            "measured_rate": { "type": "number", "nullable": true }, "stalled": { "type": "boolean", "description": "people it called have waited 15 minutes or more (at least 10) while it scanned fewer than 10: measured_rate is then what it did scan (at least 6 per station per hour) and a re-plan uses it" }, "scans_recent": { "type": "integer" }, "backlog": { "type": "integer" }, "planning_rate": { "type": "number" } } } },
        "plan": { "type": "object", "properties": { "points": { "type": "array", "items": { "type": "object" } }, "door_to_door": { "type": "array", "items": { "type": "object" } },
            "people_called": { "type": "integer", "description": "people in the calls listed here (to a grid leader, their grid's; slots' arrivals count everyone)" }, "finish_ms": { "type": "integer", "nullable": true },
            "moved": { "type": "array", "description": "buildings begun at a point that has closed (or cannot take the rest before it closes) whose remaining units are called at another point", "items": { "type": "object", "properties": {
                "building_id": { "type": "integer" }, "building": { "type": "string" }, "unit_ids": { "type": "array", "items": { "type": "integer" } }, "units": { "type": "array", "items": { "type": "string" } },
                "from_point_id": { "type": "integer" }, "from_point": { "type": "string", "nullable": true }, "from_closes_ms": { "type": "integer", "nullable": true },
                "to_point_id": { "type": "integer" }, "to_point": { "type": "string" }, "starts_ms": { "type": "integer" }, "text": { "type": "string", "description": "the warning, Chinese / English" } } } },
            "warnings": { "type": "array", "items": { "type": "string" }, "description": "buildings, units or households under control (管控区, residents stay in their compound) whose compound has no point in the round: not called down, on door_to_door; Chinese / English" } } },
        "door_to_door_count": { "type": "integer", "description": "entries sampled at the door in what the caller sees (door_to_door itself is for registry readers only)" },
        "told_over_bound": { "type": "array", "description": "slots already told (pushed or begun) whose expected queue is over the bound: a re-plan does not change them", "items": { "type": "object", "properties": {
            "point": { "type": "string" }, "point_name": { "type": "string" }, "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" }, "expected_queue": { "type": "number" }, "pushed": { "type": "boolean" }, "begun": { "type": "boolean" },
            "delayed_minutes": { "type": "integer", "nullable": true, "description": "the delay the latest delay notice (延迟下楼) covering it told the groups of; null: none went out" },
            "delayed_until_ms": { "type": "integer", "nullable": true, "description": "when that notice told them to come down (the slot's start plus the delay; when told plus the delay for a slot already begun)" },
            "people_per_minute": { "type": "number", "description": "the point's people per minute the suggestion counts on: its stations at the measured rate per station, else the configured one" },
            "suggested_minutes": { "type": "integer", "nullable": true, "description": "the delay to tell the groups: (expected_queue − the bound) ÷ people_per_minute, rounded up to a multiple of 5, within 5..240, never less than a further notice must give (a later time than the last told); null: no delay can be told any more (the slot has ended, or no delay up to 240 minutes is later than the time told)" } } } },
        "call_down": { "type": "array", "items": { "type": "object", "properties": { "point": { "type": "string" }, "point_name": { "type": "string" },
            "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" }, "people": { "type": "integer" }, "text": { "type": "string" } } } },
        "simulation": { "type": "object", "properties": { "seed": { "type": "integer" }, "plan": { "type": "object" }, "all_at_once": { "type": "object" } } },
        "out_of_hours": { "type": "array", "description": "slots of the stored plan their point is not open for (its hours changed since the plan): they cannot be pushed; plan again", "items": { "type": "object", "properties": {
            "point": { "type": "string" }, "point_name": { "type": "string" }, "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" },
            "opens_ms": { "type": "integer" }, "closes_ms": { "type": "integer" }, "pushed": { "type": "boolean", "description": "its call-down went out: its people were told to come" } } } },
        "pushes": { "type": "array", "description": "every push of the stored plan's call-down, oldest first", "items": { "type": "object", "properties": {
            "slot_ms": { "type": "integer", "description": "the slot's start" }, "at_ms": { "type": "integer", "description": "when it was pushed" },
            "actor": { "type": "string", "description": "as the audit log has it (user:NAME, cli:USER)" }, "by": { "type": "string", "description": "who pushed, by the account's display name (the command line's operator as 命令行操作员（cli:USER）/ command line (cli:USER))" },
            "messages": { "type": "integer" } } } },
        "delays": { "type": "array", "description": "delay notices (延迟下楼) sent for slots already told, oldest first: which groups were told to come down later", "items": { "type": "object", "properties": {
            "slot_ms": { "type": "integer", "description": "the slot's start" }, "point": { "type": "string", "nullable": true, "description": "the point told" }, "point_name": { "type": "string", "nullable": true, "description": "its name" },
            "minutes": { "type": "integer" }, "come_down_ms": { "type": "integer", "description": "the new time to come down: the slot's start plus the delay (when told plus the delay for a slot already begun)" },
            "at_ms": { "type": "integer" }, "actor": { "type": "string" }, "by": { "type": "string" }, "messages": { "type": "integer" },
            "overlap": overlap_schema() } } } } })
}

/// A later slot of the same point a delay's new time falls in.
fn overlap_schema() -> Value {
    json!({ "type": "object", "nullable": true, "description": "for the latest notice of a slot and point (and in a delay's answer): the later slot of the same point whose window (moved by its own notice) holds the new time; its groups were or will be called then, and the two groups queue together; null: none", "properties": {
        "starts_ms": { "type": "integer", "description": "that slot's start as planned" }, "ends_ms": { "type": "integer" },
        "come_down_ms": { "type": "integer", "nullable": true, "description": "when its own groups were told to come down, if a notice put them off too" },
        "buildings": { "type": "array", "items": { "type": "string" }, "description": "its buildings and units (3号楼 1单元、2单元)" },
        "text": { "type": "string", "description": "the warning, Chinese / English" } } })
}

pub fn document() -> Value {
    let mut doc = registry_document();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (k, v) in handoff_paths() {
            paths.insert(k.to_string(), v);
        }
    }
    doc["components"]["schemas"]["Mismatch"] = json!({ "type": "object", "required": ["step", "kind", "at", "label", "measure", "expected", "found", "diff"], "properties": {
        "step": { "type": "string", "enum": ["point", "bag", "box", "hand_off", "lab"], "description": "where the count broke" },
        "kind": { "type": "string", "enum": ["point", "bag", "box", "handoff", "receipt"] }, "at": { "type": "string", "description": "point id, bag or box barcode, hand-off or receipt id" },
        "label": { "type": "string", "description": "`at` as people name it: 「point name」（id）, a hand-over sheet as transporter HH:MM（id）, a receipt as receiver HH:MM（id）, a bag or box by its barcode" },
        "point": { "type": "string", "nullable": true }, "measure": { "type": "string", "enum": ["tubes", "people", "bags", "boxes"] },
        "expected": { "type": "integer" }, "found": { "type": "integer" }, "diff": { "type": "integer", "description": "found − expected" }, "note": { "type": "string" },
        "items": { "type": "array", "items": { "type": "string" }, "description": "what a break is made of: at a point the tubes left open with swabs once sampling is over, the tubes in no bag, the bags in no box, the boxes not handed over; a hand-over's boxes the lab has not received; a lab receipt's boxes (barcodes)" },
        "item_swabs": { "type": "array", "items": { "type": "integer" }, "description": "for the tubes left open at a point (step `point`): the swabs in each of `items`, in the same order; absent otherwise" },
        "point_label": { "type": "string", "description": "the point of a bag's, box's, hand-over's or receipt's break as people name it, 「name」（id）, in the reconciliation; absent otherwise" } } });
    doc
}

fn registry_document() -> Value {
    let resident = json!({ "$ref": "#/components/schemas/Resident" });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Gridwarden 网格卫士 API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Registry of a street's territory and residents. Ids are STREET-ID strings (e.g. 1-42). Personal data is masked." },
        "paths": {
            "/healthz": { "get": { "summary": "liveness and database check", "security": [], "responses": ok(json!({ "type": "object", "properties": { "status": { "type": "string" }, "backend": { "type": "string" } }, "required": ["status", "backend"] })) } },
            "/ping": { "get": { "summary": "does no work (the HTTP floor of benchmarks)", "security": [], "responses": { "200": { "description": "pong", "content": { "text/plain": { "schema": { "type": "string" } } } } } } },
            "/api/v1/openapi.json": { "get": { "summary": "this document", "security": [], "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "type": "object" } } } } } } },
            "/api/v1/login": { "post": { "summary": "log in: returns a bearer token and its CSRF token, and sets the HttpOnly session cookie", "security": [],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "password"], "properties": { "username": { "type": "string" }, "password": { "type": "string" } } } } } },
                "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "type": "object", "required": ["token", "csrf"], "properties": { "token": { "type": "string" }, "csrf": { "type": "string" }, "expires_ms": { "type": "integer" }, "user": { "type": "object" } } } } } },
                    "400": { "description": "bad request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "401": { "description": "wrong username or password", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "415": { "description": "the body is not application/json", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "422": { "description": "the JSON body does not have the documented shape", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "429": { "description": "too many failures: wait", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/logout": { "post": { "summary": "end this session", "responses": ok(json!({ "type": "object" })) } },
            "/api/v1/me": { "get": { "summary": "the caller and their grants", "responses": ok(json!({ "type": "object", "properties": { "user": { "type": "object" } }, "required": ["user"] })) } },
            "/api/v1/password": { "post": { "summary": "change the caller's password (ends every session)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["old", "new"], "properties": { "old": { "type": "string" }, "new": { "type": "string", "minLength": 10 } } } } } },
                "responses": ok(json!({ "type": "object" })) } },
            "/api/v1/residents/{id}/reveal": { "post": { "summary": "one field of one resident in full (role × field table); audited", "parameters": [path_id("resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["field"], "properties": { "field": { "type": "string", "enum": ["phone", "document", "health"] } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "field": { "type": "string" }, "value": {}, "audited": { "type": "boolean" } }, "required": ["id", "field"] })) } },
            "/api/v1/residents/{id}/code": { "get": { "summary": "the resident's personal code (format GW1, see docs)", "parameters": [path_id("resident id")],
                "responses": ok(json!({ "$ref": "#/components/schemas/Code" })) } },
            "/api/v1/residents/{id}/code/reissue": { "post": { "summary": "revoke a lost code and issue the next generation (audited)", "parameters": [path_id("resident id")],
                "responses": ok(json!({ "$ref": "#/components/schemas/Code" })) } },
            "/api/v1/households/{id}/link": { "post": { "summary": "a new unguessable link for the household (printable as a QR); 400 when the household has nobody whose code it could show (no members, or all purged)", "parameters": [path_id("household id")],
                "responses": created(json!({ "type": "object", "properties": { "household": { "type": "string" }, "token": { "type": "string" }, "path": { "type": "string" } }, "required": ["token"] })) } },
            "/api/v1/households/{id}/link/revoke": { "post": { "summary": "revoke every link of the household", "parameters": [path_id("household id")],
                "responses": ok(json!({ "type": "object", "properties": { "household": { "type": "string" }, "revoked": { "type": "integer" } } })) } },
            "/api/v1/household-link/{token}": { "get": { "summary": "what a household's link shows (no login: the token is the key)", "security": [],
                "parameters": [{ "name": "token", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": ok(json!({ "type": "object", "properties": { "address": { "type": "string", "nullable": true }, "members": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" }, "code": { "type": "string" } } } } }, "required": ["members"] })) } },
            "/api/v1/rounds": { "post": { "summary": "create a testing round over a street or some of its communities (planned)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["street", "name", "starts_ms", "ends_ms", "pool_size"], "properties": {
                    "street": { "type": "integer" }, "name": { "type": "string" }, "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" }, "pool_size": { "type": "integer", "enum": [1, 5, 10, 20] },
                    "communities": { "type": "array", "items": { "type": "string" }, "description": "community ids STREET-ID the round covers; absent: the whole street" },
                    "points_from": { "type": "string", "description": "an earlier round of the street (STREET-ID) whose testing points the new round takes over in the same transaction: same names, communities, compounds, positions, stations and rates, opening hours moved by whole days to the new round's start day; only points in the communities the round covers; supplies, tubes and stations are not carried. Everyone with a volunteer's or point manager's grant at an old point (in force now or later) gets the same grant at the new point, from now, each audited as a grant (carried_from). 400 when the round is not of this street" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" },
                    "summary": { "type": "string", "description": "with points_from: what was carried, one line, Chinese then English" },
                    "carried": { "type": "object", "description": "with points_from: what was carried", "properties": {
                        "from": { "type": "string" }, "from_name": { "type": "string" }, "days": { "type": "integer", "description": "whole days the hours moved by" },
                        "points": { "type": "array", "items": { "type": "object", "properties": { "from": { "type": "string" }, "id": { "type": "string" }, "name": { "type": "string" }, "grants": { "type": "integer" } }, "required": ["from", "id", "name", "grants"] } },
                        "left_behind": { "type": "array", "items": { "type": "string" }, "description": "the earlier round's points outside the communities the round covers: not carried" },
                        "grants": { "type": "integer" }, "volunteers": { "type": "integer" }, "point_managers": { "type": "integer" },
                        "supplies_carried": { "type": "boolean", "description": "always false: issue supplies anew" } },
                      "required": ["from", "points", "grants", "supplies_carried"] } }, "required": ["id"] })) } },
            "/api/v1/rounds/{id}/open": { "post": { "summary": "open a round: the expected population is fixed now", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" }, "expected": { "type": "integer" } } })) } },
            "/api/v1/points/{id}/remove": { "post": { "summary": "remove a point added by mistake; refused (409, naming what) once it has a tube, a swab, a station, supplies, an alert, a bag or a hand-over, or its round is closed; its calls in a stored plan go with it", "parameters": [path_id("point id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "removed": { "type": "boolean" } } })) } },
            "/api/v1/points/{id}": { "post": { "summary": "change a running point: sampling stations, hours, configured rate, compound, position or name (what is absent stays); then re-plan the rest of the round", "parameters": [path_id("point id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": { "name": { "type": "string", "description": "a new name: not blank, unique among the round's points of its community (409 names the namesake)" }, "stations": { "type": "integer", "minimum": 1, "maximum": 50 }, "compound": { "type": "string", "description": "STREET-ID of the compound the point now stands in; \"\" or \"outside\": out of any compound; absent: unchanged" }, "x_m": { "type": "integer" }, "y_m": { "type": "integer" }, "opens_ms": { "type": "integer" }, "closes_ms": { "type": "integer" }, "rate_per_station_h": { "type": "integer", "minimum": 1, "maximum": 2000 } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "name": { "type": "string" }, "stations": { "type": "integer" }, "rate_per_station_h": { "type": "integer" }, "opens_ms": { "type": "integer", "nullable": true }, "closes_ms": { "type": "integer", "nullable": true }, "warnings": { "type": "array", "items": { "type": "string" }, "description": "the new hours leave out a slot whose call-down was pushed here: its people were told to come; plan again and tell them (the change stands)" } }, "required": ["id", "stations"] })) } },
            "/api/v1/rounds/{id}/points": { "post": { "summary": "add a testing point in a community, with its schedule fields, in one transaction; refused (409) once the round is closed", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["name", "community"], "properties": {
                    "name": { "type": "string" }, "community": { "type": "string" }, "stations": { "type": "integer" },
                    "compound": { "type": "string", "description": "compound the point stands in (STREET-ID); \"\" or \"outside\": outside any compound (serves every compound); absent: a new point stands outside, a changed one stays where it is" },
                    "x_m": { "type": "integer", "description": "metres east of the street's origin" }, "y_m": { "type": "integer", "description": "metres north" },
                    "opens_ms": { "type": "integer" }, "closes_ms": { "type": "integer" }, "rate_per_station_h": { "type": "integer", "description": "people per station per hour (default 100)" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" } }, "required": ["id"] })) } },
            "/api/v1/rounds/{id}/schedule": {
                "get": { "summary": "the round's call-down schedule (a preview until planned): points with configured and measured rates, buildings per point, slots with units called, expected queue and finish, door-to-door list, WeCom call-down texts, simulation of the plan vs everyone at once", "parameters": [path_id("round id")],
                    "responses": ok(schedule_schema()) },
                "post": { "summary": "plan the round, or re-plan the slots neither started nor pushed with measured rates (a point running slow moves later calls; calls already pushed stay as told); out-of-range fields are refused (400 naming the field)", "parameters": [path_id("round id")],
                    "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": {
                        "slot_minutes": { "type": "integer", "minimum": 5, "maximum": 240, "description": "slot length in minutes, 5–240; left out: the stored plan's, else 30" }, "max_queue": { "type": "integer", "minimum": 1, "maximum": 1000, "description": "bound on the expected longest queue at any point, people waiting, 1–1000; left out: the stored plan's, else 30" } } } } } },
                    "responses": ok(schedule_schema()) } },
            "/api/v1/rounds/{id}/coverage": { "get": { "summary": "expected, sampled, exempt, missed and added (not in the snapshot) per community, grid or building the caller may read, within one territory (at most one of community, grid, building), with per-point counts",
                "parameters": [path_id("round id"), q("by", "string", "community, grid or building (default: grid, or building within a grid or building)", false), q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false)],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "by": { "type": "string" }, "expected": { "type": "integer" }, "sampled": { "type": "integer" }, "exempt": { "type": "integer" }, "missed": { "type": "integer" }, "added": { "type": "integer" }, "added_sampled": { "type": "integer" }, "added_exempt": { "type": "integer", "description": "added since the opening, exempt and not sampled (not in added)" },
                    "rows": { "type": "array", "items": { "type": "object", "properties": { "level": { "type": "string" }, "key": { "type": "string" }, "expected": { "type": "integer" }, "sampled": { "type": "integer" }, "exempt": { "type": "integer" }, "missed": { "type": "integer" }, "added": { "type": "integer" }, "added_sampled": { "type": "integer" }, "added_exempt": { "type": "integer" } } } },
                    "points": { "type": "array", "items": { "type": "object", "properties": { "point": { "type": "string" }, "name": { "type": "string" },
                        "people": { "type": "integer", "description": "people swabbed at this point, each once" }, "swabs": { "type": "integer" }, "tubes": { "type": "integer" },
                        "first_ms": { "type": "integer", "nullable": true }, "last_ms": { "type": "integer", "nullable": true },
                        "buildings": { "type": "integer", "description": "buildings the stored call-down plan sends to this point (its territory)" },
                        "expected": { "type": "integer", "nullable": true }, "sampled": { "type": "integer", "nullable": true }, "exempt": { "type": "integer", "nullable": true },
                        "missed": { "type": "integer", "nullable": true, "description": "of the point's territory; null without a plan" } } } } }, "required": ["round", "rows", "points"] })) } },
            "/api/v1/rounds/{id}/missed": { "get": { "summary": "the missed list of one community, grid or building (masked): expected, not sampled, not exempt (items); sampled means a swab in the round whose tube the lab did not find invalid, so someone whose every swab is in an invalid tube (no result at all) is listed, marked resample_due with the reason 待重采（原管无效）/ re-sample due (tube invalid), until their re-sample swab is registered; and those who moved in or were registered since the round opened, not sampled (added); moved_away counts those missed here who now live where the caller may not read them (not listed); moved_in lists those expected elsewhere at the opening who live here now, not sampled (counted where they were expected)", "parameters": [path_id("round id"), q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false)],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": missed_person() }, "added": { "type": "array", "items": missed_person() }, "moved_away": { "type": "integer", "description": "missed here, now living where the caller may not read them: counted, not listed" }, "moved_in": { "type": "array", "description": "expected elsewhere when the round opened (counted there), living here now, not sampled, not exempt", "items": missed_person() } } })) } },
            "/api/v1/rounds/{id}/resamples": { "get": { "summary": "the members of invalid tubes to be swabbed again in one community, grid or building (masked), open ones first; a re-sample swab (purpose resample) whose tube gets a result ends one", "parameters": [path_id("round id"), q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false)],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object", "properties": { "resident": { "$ref": "#/components/schemas/Resident" }, "tube": { "type": "string" }, "state": { "type": "string", "enum": ["open", "swabbed", "exempt", "resampled", "withdrawn"], "description": "open: to be swabbed again; swabbed: swabbed again, the re-sample tube's result not in yet; exempt: exempted from the round since (in hospital, away…), nobody will swab them again here; resampled: done; withdrawn: cancelled by a corrected result" }, "created_ms": { "type": "integer" }, "held_at_home": { "type": "string", "enum": ["sealed", "temporary"], "description": "present when their household is held at home now (sealed, or under temporary control, on itself or around it): a door-to-door team swabs them again, they are not told to come to a point" } } } } }, "required": ["items"] })) } },
            "/api/v1/rounds/{id}/schedule/push": { "post": { "summary": "push one slot's call-down messages (which buildings and units come down, when, where) to the street's alert channels; only while the round is planned or open, for a slot not begun; refused (400) when the street has no active alert channel, nothing recorded; a slot pushed before is refused (409) unless `again`; 409 too when the plan was made again meanwhile; a slot whose point is not open then (its hours changed since the plan) is refused (400), and a time no slot starts at is refused listing the slots to come", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": { "starts_ms": { "type": "integer", "description": "the slot's start; absent: the next slot not begun and not pushed yet (with `again`: the next slot not begun)" }, "again": { "type": "boolean", "description": "push a slot already pushed once more" } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "queued": { "type": "integer" } }, "required": ["queued"] })) } },
            "/api/v1/rounds/{id}/schedule/delay": { "post": { "summary": "tell the groups one point calls in a slot already told (its call-down pushed, or begun, and not ended) to come down later (延迟下楼): one message per active alert channel, naming the round, the point, the slot, its buildings and units, the delay and the new time (the slot's start plus `minutes`, or now plus `minutes` once it has begun), kind call_delayed, expiring at the slot's end moved by as much; recorded on the round (action call_down.delay) and listed in the schedule's `delays`; each call is a new notice and must give a later time than the last notice of that slot and point. Without `minutes`, the schedule's suggestion (`suggested_minutes` of `told_over_bound`; for a slot within the bound, the least allowed, rounded up to 5). A new time that falls in a later slot of the point (whose groups were or will be called then) is told all the same, and the answer's `overlap` and `warnings` say so: the two groups will queue together. Refused (400), nothing queued or recorded: no stored plan, no slot starts at `slot_ms` (the slots that may be delayed are listed), `point` calls nobody in it, the slot was never pushed and has not begun, it has ended (its end moved by the delays told), `minutes` outside 5..240, a time not later than the one told (the least minutes that is later is named), or no active alert channel; 422 without `point`", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["slot_ms", "point"], "properties": { "slot_ms": { "type": "integer", "description": "the slot's start (Unix ms; `starts_ms` is taken too)" }, "point": { "type": "string", "description": "the point whose line is long (STREET-ID): only its groups are told" }, "minutes": { "type": "integer", "minimum": 5, "maximum": 240, "description": "absent: the schedule's suggestion" } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "slot_ms": { "type": "integer" }, "minutes": { "type": "integer" }, "come_down_ms": { "type": "integer" }, "points": { "type": "array", "items": { "type": "string" } }, "queued": { "type": "integer" },
                    "suggested": { "type": "boolean", "description": "no minutes were given: `minutes` is the schedule's suggestion" }, "overlap": overlap_schema(),
                    "warnings": { "type": "array", "items": { "type": "string" }, "description": "what to look out for, Chinese / English: the new time falls in a later slot of the point, and the two groups will queue together (the notice went out all the same)" } }, "required": ["queued"] })) } },
            "/api/v1/streets/{id}/rounds": { "get": { "summary": "a street's rounds, newest first (names, windows, states, communities: no personal data)", "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": ok(json!({ "type": "object", "properties": { "rounds": { "type": "array", "items": { "type": "object", "properties": { "id": { "type": "string" }, "name": { "type": "string" }, "state": { "type": "string" }, "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" }, "pool_size": { "type": "integer" }, "communities": { "type": "array", "items": { "type": "string" } } } } } }, "required": ["rounds"] })) } },
            "/api/v1/rounds/{id}/compare": { "get": { "summary": "round over round for one community, grid or building: per building and point, and the residents sampled in the round before and not in this one (masked)", "parameters": [path_id("round id"), q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false)],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "before": { "type": "string", "nullable": true }, "buildings": { "type": "array", "items": { "type": "object" } }, "points": { "type": "array", "items": { "type": "object" } }, "lapsed": { "type": "array", "items": { "$ref": "#/components/schemas/Resident" } } }, "required": ["round", "buildings", "points", "lapsed"] })) } },
            "/api/v1/rounds/{id}/disinfection": { "get": { "summary": "disinfection tasks opened for the points of abnormal pools (state open, done, or withdrawn when a corrected result withdrew the alert before it was done), at the points the caller manages or reads: a grid leader reads those of a point standing in a compound with buildings in their grid, or outside compounds with buildings of their grid in its plan", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "tasks": { "type": "array", "items": { "type": "object", "properties": { "task": { "type": "string" }, "point": { "type": "string" }, "point_name": { "type": "string" }, "alert": { "type": "string" }, "state": { "type": "string" }, "created_ms": { "type": "integer" }, "done_ms": { "type": "integer", "nullable": true }, "done_by": { "type": "string", "nullable": true }, "may_mark_done": { "type": "boolean", "description": "the caller manages the point's stations and may mark the task done; a grid leader reading a point that stands in (or is planned for) their grid may not" } } } } }, "required": ["tasks"] })) } },
            "/api/v1/streets/{id}/coverage-history": { "get": { "summary": "the street's latest opened rounds that expected anyone in a community, grid or building (the whole street when none is given), newest first, each with expected, sampled, exempt, missed, added and added_sampled as the caller may read them, whether nobody was missed, and how many of the latest rounds in a row missed nobody (不落一人)", "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }, q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false), q("rounds", "integer", "how many rounds (default 4, up to 50)", false)],
                "responses": ok(json!({ "type": "object", "properties": { "street": { "type": "integer" }, "within": { "type": "string", "nullable": true }, "in_a_row": { "type": "integer" }, "rounds": { "type": "array", "items": { "type": "object", "properties": { "round": { "type": "string" }, "name": { "type": "string" }, "state": { "type": "string" }, "starts_ms": { "type": "integer" }, "expected": { "type": "integer" }, "sampled": { "type": "integer" }, "exempt": { "type": "integer" }, "missed": { "type": "integer" }, "added": { "type": "integer" }, "added_sampled": { "type": "integer" }, "added_exempt": { "type": "integer" }, "nobody_missed": { "type": "boolean" } } } } }, "required": ["street", "rounds", "in_a_row"] })) } },
            "/api/v1/rounds/{id}/flagged": { "get": { "summary": "the round's flagged swabs (a problem such as a bad code, a closed or over-full tube, a purpose that does not fit the tube, a clock ahead; or a second sampling swab, routine or door-to-door), newest first, at the points where the caller scans or reads the registry; names masked, shown only where the caller may read the registry", "parameters": [path_id("round id"), q("point", "string", "point id STREET-ID", false), q("limit", "integer", "at most this many (default 500, up to 5000)", false)],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "items": { "type": "array", "items": { "type": "object", "properties": { "registration": { "type": "string" }, "client_id": { "type": "string" }, "point": { "type": "string" }, "point_name": { "type": "string" }, "tube": { "type": "string" }, "purpose": { "type": "string" }, "problem": { "type": "string" }, "duplicate_of": { "type": "string", "nullable": true }, "scanned_ms": { "type": "integer" }, "station": { "type": "string" }, "resident": { "type": "string", "nullable": true }, "name": { "type": "string", "nullable": true } } } } }, "required": ["round", "items"] })) } },
            "/api/v1/disinfection/{id}/done": { "post": { "summary": "mark a disinfection task done (the point's manager)", "parameters": [path_id("task id")],
                "responses": ok(json!({ "type": "object", "properties": { "task": { "type": "string" }, "state": { "type": "string" } } })) } },
            "/api/v1/streets/{id}/alert-channels": {
                "get": { "summary": "the street's alert channels (group-robot webhooks; secrets hidden)", "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                    "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object" } } }, "required": ["items"] })) },
                "post": { "summary": "add an alert channel: a WeCom, DingTalk or Feishu group robot, or a plain JSON receiver", "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["kind", "url"], "properties": { "kind": { "type": "string", "enum": ["wecom", "dingtalk", "feishu", "json"] }, "url": { "type": "string" }, "secret": { "type": "string", "description": "DingTalk's or Feishu's signing secret (加签), when the robot asks for signed messages; never shown again" } } } } } },
                    "responses": ok(json!({ "type": "object", "properties": { "channel": { "type": "string" } }, "required": ["channel"] })) } },
            "/api/v1/alert-channels/{id}/remove": { "post": { "summary": "stop sending to an alert channel", "parameters": [path_id("channel id")],
                "responses": ok(json!({ "type": "object", "properties": { "channel": { "type": "string" }, "active": { "type": "boolean" } } })) } },
            "/api/v1/alert-channels/{id}/test": { "post": { "summary": "queue a test message to an alert channel", "parameters": [path_id("channel id")],
                "responses": ok(json!({ "type": "object", "properties": { "notification": { "type": "string" } } })) } },
            "/api/v1/streets/{id}/notifications": { "get": { "summary": "the street's recent alert messages and their delivery (attempts, last error); `what` is what each message is (abnormal_pool, late_member, cleared, confirmed, withdrawn, call_down, call_held, call_delayed, test, other), stored when it was queued", "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object" } } }, "required": ["items"] })) } },
            "/api/v1/points/{id}/tubes": { "post": { "summary": "open a tube at a point by its barcode", "parameters": [path_id("point id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["barcode"], "properties": { "barcode": { "type": "string" }, "reuse": { "type": "boolean", "description": "a station replaying its own open: the tube already open under this barcode at this point is answered with 200 instead of 409, and a tube opened offline is accepted whatever the round's state (with a warning)" }, "purpose": { "type": "string", "enum": ["routine", "door_to_door", "retest", "resample"], "description": "what the tube is for: retest tubes hold one swab; retest and resample tubes may be opened once the round is open, also after sampling or the round closed (a correction after the close opens retests)" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" }, "reused": { "type": "boolean" }, "fill": { "type": "integer", "description": "swabs already in the tube: 0 for a new tube; a reused tube's count, which a station re-enrolled or scanning its tube again counts on from" }, "warning": { "type": "string", "nullable": true, "description": "set when the tube was not issued to this point (with what to do: take one of the point's tubes; this one, empty, is withdrawn when the station changes tube), was opened offline in a round no longer sampling (opened anyway), or (reuse) is already full, sealed or further along: `state` then says which, and the station takes a new tube" } }, "required": ["id"] })) } },
            "/api/v1/tubes/{id}/scans": { "post": { "summary": "register one swab (always stored, but for a blank read or a tube's, bag's or box's label of the round in the person's place, a code over 200 characters or with a control character, or a walk-in's invalid phone or a name over 40, while the scan is live (at most two minutes old), refused with 400 code `rescan`: nothing stored, the station drops it and reads the person's code again; synced later the code is cut to 200 characters or loses its control characters and is stored and flagged; a client id or station over 200 characters or with a control character is refused with 400 `bad_request`; exactly once per client_id: the same client_id sent with another tube, another code or another purpose, or a walk-in's client_id sent with a code, is refused with 409, and a client_id whose scan was taken back with 409 code `voided`)", "parameters": [path_id("tube id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["client_id"], "properties": {
                    "client_id": { "type": "string" }, "code": { "type": "string" },
                    "walk_in": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "phone": { "type": "string" } } }, "purpose": { "type": "string", "enum": ["routine", "door_to_door", "retest", "resample"], "description": "a purpose that does not fit the tube's (a routine swab in a retest tube) is stored and flagged in problem" },
                    "station": { "type": "string", "description": "which station scanned (a person's scans from the API or the command line); an enrolled station's token names it, and that is what is stored" }, "scanned_ms": { "type": "integer", "description": "when the station took the swab (default: now); a second sampling swab (routine or door-to-door) taken more than two minutes before the stored first becomes the first; more than five minutes after the server's clock is flagged" }, "sent_ms": { "type": "integer", "description": "the station's clock as it sends (with scanned_ms): the difference from the server's clock corrects scanned_ms" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["registration", "replay", "tube_fill", "point_count"], "properties": {
                    "registration": { "type": "string" }, "replay": { "type": "boolean" }, "resident": { "type": "string", "nullable": true }, "purpose": { "type": "string" },
                    "duplicate_of": { "type": "object", "nullable": true, "description": "a second sampling swab: where and when the first was taken", "properties": { "registration": { "type": "string" }, "point": { "type": "string" }, "point_name": { "type": "string" }, "scanned_ms": { "type": "integer" } } }, "problem": { "type": "string" }, "tube_fill": { "type": "integer" }, "pool_size": { "type": "integer" }, "point_count": { "type": "integer" }, "follow_up": { "type": "string", "nullable": true, "description": "a swab stored after its tube's result: taken before it (an offline queue synced late), retest (an abnormal pool; the household goes under temporary control and the alert's channels are told) or resample (an invalid tube); taken after it (into a tube already tested), resample" },
                    "person": { "type": "string", "nullable": true, "description": "who was swabbed, masked (张*萍 女 44岁), for the volunteer to check the code is theirs; on a replay too when the same code or number is sent again; absent for a walk-in and for nobody known" },
                    "alert": { "type": "string", "nullable": true, "description": "to act on before the next person: they have an open single-tube retest (an abnormal pool's member) and were swabbed for something else; when their retest swab is registered already (its result to come), the alert says so, with the time and the point it was taken at, and that no second retest is to be taken. A re-sample swab (purpose resample) of someone with no re-sample due in the round is stored and flagged in problem (此人没有待做的重采), as a retest swab of someone with no retest open is" },
                    "tube_closed": { "type": "boolean", "description": "the tube was no longer open (closed when full, by hand or by another station, or further along): the swab is stored and flagged, and the station takes a new tube" },
                    "retype": { "type": "boolean", "description": "the code was a document number with a typing mistake (check character, length or birth date): stored and flagged; the station asks to take it back and type it again" },
                    "unregistered": { "type": "boolean", "description": "the code was a well-formed document number (or a label read as one) nobody of this street has: stored and flagged; the station asks to take it back before registering the person as a walk-in (or opening the next tube), so one swab is not counted twice" } } })) } },
            "/api/v1/tubes/{id}/close": { "post": { "summary": "close a tube by hand (a station's change of tube; a tube closed already, full or by another station, answers `closed` again; one sealed or further along is a 409): a tube with no swab in it (none was ever scanned into it, or every one was taken back; open, or closed empty) is withdrawn instead, in a round not closed: it is removed, its barcode free again, audited (`withdraw_tube`); `state` says which", "parameters": [path_id("tube id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string", "enum": ["closed", "withdrawn"] } } })) } },
            "/api/v1/registrations/{id}/void": { "post": { "summary": "take back a swab registered by mistake (a wrong code scanned, a person scanned and not swabbed) while its tube is open or closed at the point: it leaves every count, a tube that closed itself when full opens again, the resident's next swab becomes their first, a pending walk-in named by no other swab goes; audited (the reason is kept with the swab, cleared by a purge). A station's replay of its client id is then refused (409, code `voided`). Sent again for a swab taken back: the same answer with `already`. 400: no reason; 403: not allowed to scan at its point; 404: no such registration; 409: the tube is sealed or further on, or the round is closed", "parameters": [path_id("registration id")],
                "requestBody": body(&["reason"], json!({ "reason": { "type": "string", "description": "why (1–500 characters)" } })),
                "responses": ok(void_outcome()) } },
            "/api/v1/tubes/{id}/voids": { "post": { "summary": "a station's undo of its last scan, by the scan's client id, whether or not the scan has reached the server (an offline queue, a lost answer): stored, it is taken back as by /registrations/{id}/void; not stored, its client id is recorded as taken back and the scan, if it comes later, is refused (409, code `voided`). Sent again: the same answer with `already`. 400: no reason, or the client id's swab is in another tube; 409: the tube is sealed or further on, or the round is closed", "parameters": [path_id("tube id")],
                "requestBody": body(&["client_id", "reason"], json!({ "client_id": { "type": "string" }, "reason": { "type": "string" } })),
                "responses": ok(void_outcome()) } },
            "/api/v1/buildings/{id}/grid": { "post": { "summary": "place a building in one of its community's grids (a building a roster brought in lands in 未分配网格): its residents go with it; the community's secretary or the street's commander; audited. 409 for a grid of another community", "parameters": [path_id("building id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["grid"], "properties": { "grid": { "type": "string", "description": "the grid, STREET-ID" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["building", "grid"], "properties": { "building": { "type": "string" }, "grid": { "type": "string" }, "grid_name": { "type": "string" }, "community": { "type": "string" } } })) } },
            "/api/v1/points/{id}/stations": { "get": { "summary": "the point's scanning stations, newest first, with their state (waiting: code not used yet; active; revoked; expired), for its manager to revoke a lost one", "parameters": [path_id("point id")],
                "responses": ok(json!({ "type": "object", "required": ["point", "items"], "properties": { "point": { "type": "string" }, "items": { "type": "array", "items": { "type": "object", "required": ["station", "label", "state"], "properties": {
                    "station": { "type": "string" }, "label": { "type": "string" }, "created_ms": { "type": "integer" }, "enrolled_ms": { "type": "integer", "nullable": true }, "expires_ms": { "type": "integer" }, "revoked_ms": { "type": "integer", "nullable": true }, "state": { "type": "string", "enum": ["waiting", "active", "revoked", "expired"] } } } } } })) },
                "post": { "summary": "issue a one-time enrolment code for a scanning station at a point (shown once)", "parameters": [path_id("point id")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "label": { "type": "string" } } } } } },
                "responses": created(json!({ "type": "object", "required": ["station", "enroll_code"], "properties": { "station": { "type": "string" }, "enroll_code": { "type": "string" }, "expires_ms": { "type": "integer" } } })) } },
            "/api/v1/enroll": { "post": { "summary": "exchange a one-time enrolment code for a station's bearer token (shown once)", "security": [],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["code"], "properties": { "code": { "type": "string" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["station", "token"], "properties": { "station": { "type": "string" }, "token": { "type": "string" }, "point": { "type": "string" }, "round": { "type": "string" }, "expires_ms": { "type": "integer" }, "point_name": { "type": "string" }, "round_name": { "type": "string" }, "pool_size": { "type": "integer" }, "point_count": { "type": "integer", "description": "swabs registered at the point so far (the station's count from enrolment; each scan's answer carries it on)" }, "tube_min_len": { "type": "integer" }, "tube_max_len": { "type": "integer" }, "tube_check": { "type": "string", "enum": ["none", "luhn"] } } })) } },
            "/api/v1/stations/{id}/revoke": { "post": { "summary": "revoke a station's token", "parameters": [path_id("station id")],
                "responses": ok(json!({ "type": "object", "properties": { "station": { "type": "string" }, "revoked": { "type": "boolean" } } })) } },
            "/api/v1/rounds/{id}/results/corrections": { "post": { "summary": "the lab's corrected result for one pooled tube that has a result, with the reason (audited): what the earlier result set in motion is undone (an abnormal pool's alert withdrawn, its open retests cancelled, the temporary control it set ended, its disinfection task called off if not done; an invalid tube's open re-samples cancelled) and the new result does what any result does (an abnormal one traces the pool); the alert channels are told. 400: no such tube in the round, no reason, or an unknown result word; 409: the tube has no result yet, or is a single-tube retest", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["barcode", "result", "reason"], "properties": { "barcode": { "type": "string" }, "result": { "type": "string", "description": "negative, abnormal (positive) or invalid, in Chinese or English" }, "reason": { "type": "string", "description": "why: the lab's corrected report" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["barcode", "before", "after", "changed"], "properties": {
                    "barcode": { "type": "string" }, "before": { "type": "string" }, "after": { "type": "string" }, "changed": { "type": "boolean", "description": "false: the tube had this result already" },
                    "withdrawn_alert": { "type": "string", "nullable": true }, "cancelled": { "type": "integer", "description": "open retests or re-samples of the earlier result cancelled" },
                    "released": { "type": "integer", "description": "households the withdrawn alert's temporary control ended for that are now under no household order (one another alert's or a hand-set order still holds is not counted)" },
                    "disinfection_withdrawn": { "type": "boolean", "description": "the withdrawn alert's disinfection task was not done yet and is called off (state `withdrawn`)" },
                    "resamples": { "type": "integer", "description": "corrected to invalid: the tube's people now called to be swabbed again" },
                    "alert": { "type": "object", "nullable": true, "description": "the alert the corrected result raised (an abnormal pool), traced" },
                    "calls_held": { "type": "integer", "description": "pushed calls (a point's slot, not yet ended) that named a household the raised alert put under temporary control: held back as a hand-set order holds them" },
                    "groups_told": { "type": "integer", "description": "group robots sent a stay-home message (暂停下楼) for those calls" },
                    "notice_failed": { "type": "boolean", "description": "the correction is stored but the stay-home message could not be queued (the server tells it again within minutes)" },
                    "notifications": { "type": "integer", "description": "messages queued for the street's alert channels (the alert's and the stay-home messages)" } } })) } },
            "/api/v1/rounds/{id}/results": { "post": { "summary": "the lab's results by tube barcode; an abnormal pool is traced to its members in the answer. The same result again is listed under `already`; a different result for a tube that has one is refused (409: use …/results/corrections), and a tube given twice with two results (400), and nothing of the request is recorded; a barcode that is no tube of the round refuses the request (400, naming another round that has it or this round's tube with the leading zeros Excel dropped)", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["results"], "properties": { "results": { "type": "array", "items": {
                    "type": "object", "required": ["barcode", "result"], "properties": { "barcode": { "type": "string" }, "result": { "type": "string" } } } } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "recorded": { "type": "integer" }, "already": { "type": "array", "items": { "type": "string" } },
                    "unpacked": { "type": "array", "items": { "type": "string" }, "description": "recorded, but the system never saw these tubes packed in a bag: where the chain of counts broke" },
                    "still_open": { "type": "array", "items": { "type": "string" }, "description": "of `unpacked`, the tubes still open at their point (being filled): the lab cannot have them, check the barcodes" },
                    "not_received": { "type": "array", "items": { "type": "string" }, "description": "recorded, but the lab never recorded receiving their box (packed, or handed over and not received): check the barcodes, or record the receipt" },
                    "invalid_tubes": { "type": "array", "items": { "type": "string" }, "description": "the tubes resulted invalid now: a pool's people are swabbed again, a retest tube's retest stays open" },
                    "resamples": { "type": "integer", "description": "people of invalid pools now called to be swabbed again" },
                    "notifications": { "type": "integer", "description": "messages queued for the street's alert channels (the alerts' and the stay-home messages)" },
                    "calls_held": { "type": "integer", "description": "pushed calls (a point's slot, not yet ended) that named a household the alerts raised now put under temporary control: held back as a hand-set order holds them" },
                    "groups_told": { "type": "integer", "description": "group robots sent a stay-home message (暂停下楼) for those calls" },
                    "notice_failed": { "type": "boolean", "description": "the results are stored but the stay-home message could not be queued (the server tells it again within minutes)" },
                    "negative": { "type": "integer" }, "invalid": { "type": "integer" }, "alerts": { "type": "array", "items": { "type": "object" } } } })) } },
            "/api/v1/rounds/{id}/results/file": { "post": { "summary": "the lab's results file (.xlsx, .xls, or .csv in UTF-8 or GBK: a tube-barcode column and a result column, 阴性/阳性/异常/无效 or negative/positive/abnormal/invalid) as the raw body; all or nothing: any bad row refuses the file with every problem listed (422)",
                "parameters": [path_id("round id"), q("filename", "string", "the file's name, e.g. 结果.xlsx: its extension gives the type (else Content-Type: text/csv, application/vnd.ms-excel or …spreadsheetml.sheet)", false)],
                "requestBody": { "required": true, "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { "schema": { "type": "string", "format": "binary" } },
                    "application/vnd.ms-excel": { "schema": { "type": "string", "format": "binary" } },
                    "text/csv": { "schema": { "type": "string", "format": "binary" } },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": {
                    "200": { "description": "recorded", "content": { "application/json": { "schema": { "type": "object", "properties": { "file": { "type": "string" }, "rows": { "type": "integer" }, "repeated": { "type": "integer" },
                        "skipped_sheets": { "type": "array", "items": { "type": "string" } }, "recorded": { "type": "integer" }, "already": { "type": "array", "items": { "type": "string" } },
                        "negative": { "type": "integer" }, "invalid": { "type": "integer" }, "alerts": { "type": "array", "items": { "type": "object" } },
                        "invalid_tubes": { "type": "array", "items": { "type": "string" } }, "resamples": { "type": "integer" },
                        "notifications": { "type": "integer" }, "calls_held": { "type": "integer", "description": "as for …/results" }, "groups_told": { "type": "integer" }, "notice_failed": { "type": "boolean" } } } } } },
                    "400": { "description": "not a readable spreadsheet (code bad_file) or no file name", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "401": { "description": "not logged in" }, "403": { "description": "not allowed" }, "404": { "description": "no such round" },
                    "413": { "description": "file too large (code too_large)" },
                    "422": { "description": "bad rows: nothing recorded (code bad_rows)", "content": { "application/json": { "schema": { "type": "object", "required": ["code", "message", "issues"], "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" }, "issues": { "type": "array", "items": { "type": "object", "properties": {
                            "file": { "type": "string" }, "sheet": { "type": "string" }, "row": { "type": "integer", "nullable": true }, "column": { "type": "string" }, "reason": { "type": "string" } } } } } } } } } } } },
            "/api/v1/rounds/{id}/alerts": { "get": { "summary": "the round's abnormal pools with the members the caller may read", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "alerts": { "type": "array", "items": { "type": "object", "properties": {
                    "alert": { "type": "string" }, "kind": { "type": "string", "enum": ["abnormal_pool", "confirmed"] }, "state": { "type": "string" }, "tube": { "type": "string" }, "barcode": { "type": "string" }, "point": { "type": "string" },
                    "members": { "type": "array", "items": { "$ref": "#/components/schemas/Resident" } }, "member_count": { "type": "integer" }, "unidentified": { "type": "integer" }, "households_under_control": { "type": "integer" },
                    "retests_open": { "type": "integer", "description": "members whose single-tube retest is still to be taken (not exempt, no retest swab registered)" },
                    "retests_swabbed": { "type": "integer", "description": "members whose retest is open and swabbed already (a retest swab registered, its result still to come): nobody has to go to their door; not in retests_open" },
                    "retests_exempt": { "type": "integer", "description": "members whose retest is open but who are exempt from the round" },
                    "created_ms": { "type": "integer" } } } } } })) } },
            "/api/v1/rounds/{id}/door-to-door": { "get": { "summary": "who to swab at their door in a grid (grid=), or in a whole community, grid by grid (community=, the team's one list: `grids`, each grid's floors as its own list gives them, every person once; for whoever may read every grid's list of the community: its registry readers and the staff of the round's points in it, each grid masked as its own list is; a reader of only some of its grids, a grid leader, is refused 403 and asks grid by grid) (cannot go downstairs, or sealed / temporary control), by building and floor, each person with why they are on it: one row per person: those not yet sampled nor exempt (purpose door_to_door; purpose resample, 待重采（原管无效）, for one whose every swab is in a tube the lab found invalid: not sampled, sampled: false), and those held at home sampled with an open single-tube retest (purpose retest) or re-sample (purpose resample) (sampled: true; work to do, not missed; with both open one row, purposes [retest, resample]), who leave the list once that swab is registered; for registry readers of the grid (each person as the masked Resident) and for the staff of the round's points in the grid's community (the door-to-door team, who read no registry: only the masked name, address, unit, room, masked phones and operational flags; no document number, age, gender, uid or key: they scan the person's code); a grid or community the round does not cover is refused (400), as is neither or both of grid and community", "parameters": [path_id("round id"), q("grid", "string", "grid id STREET-ID (this or community)", false), q("community", "string", "community id STREET-ID (this or grid): the whole community's list, by grid", false)],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "grid": { "type": "string", "description": "asked by grid" }, "community": { "type": "string", "description": "asked by community" },
                    "grids": { "type": "array", "description": "asked by community: every grid of it in the registry's order (one with nobody to visit too), each with its floors as in `floors`", "items": { "type": "object", "properties": { "grid": { "type": "string", "description": "STREET-ID" }, "name": { "type": "string" }, "floors": { "type": "array", "items": { "type": "object" }, "description": "as `floors` of a grid's list" } }, "required": ["grid", "name", "floors"] } },
                    "preview": { "type": "boolean", "description": "the round has not begun: the list is the registry's and the control orders' as they are now (once open, the round's own list less those swabbed)" }, "floors": { "type": "array", "description": "asked by grid", "items": { "type": "object", "properties": {
                    "building": { "type": "string" }, "building_id": { "type": "string", "nullable": true }, "floor": { "type": "integer", "nullable": true },
                    "residents": { "type": "array", "items": { "allOf": [{ "oneOf": [{ "$ref": "#/components/schemas/Resident" }, { "type": "object", "description": "for the door-to-door team (not a registry reader of the grid): only what the door needs", "properties": {
                        "name": { "type": "string", "description": "masked, 王*芳" }, "address": { "type": "string", "nullable": true }, "unit": { "type": "string", "nullable": true }, "room": { "type": "string", "nullable": true },
                        "phones": { "type": "array", "items": { "type": "object", "properties": { "number": { "type": "string", "description": "masked" }, "relation": { "type": "string" } } } },
                        "flags": { "type": "array", "items": { "type": "string" }, "description": "operational flags (never health flags)" } }, "required": ["name", "phones", "flags"] }] },
                      { "type": "object", "properties": { "reasons": { "type": "array", "items": { "type": "object", "properties": {
                        "kind": { "type": "string", "enum": ["sealed", "temporary", "cannot_go_downstairs"] }, "level": { "type": "string", "nullable": true, "description": "compound, building, unit or household: where the control order is set; null for the flag" }, "text": { "type": "string", "description": "中文 / English" } }, "required": ["kind", "text"] } },
                        "purpose": { "type": "string", "enum": ["door_to_door", "retest", "resample"], "description": "the purpose to register the swab with, and so the tube to open: a pooled tube, a single-tube retest tube or a re-sample tube" },
                        "purposes": { "type": "array", "items": { "type": "string", "enum": ["door_to_door", "retest", "resample"] }, "description": "every purpose due, one swab each, purpose first: [retest, resample] when both are open" },
                        "due": { "type": "string", "description": "待入户采样 / to be sampled, 待单管复检 / retest due, 待重采 / re-sample due, 待重采（原管无效）/ re-sample due (tube invalid) (missed: every swab in an invalid tube), 待单管复检、待重采 / retest and re-sample due" },
                        "sampled": { "type": "boolean", "description": "sampled in the round (a swab in a tube the lab did not find invalid) with a retest or re-sample open: not missed; false for one missed, a re-sample after an invalid tube included" } }, "required": ["reasons", "purpose", "purposes", "due", "sampled"] }] } } } } } } })) } },
            "/api/v1/streets/{id}/pool-advice": { "get": { "summary": "pool size minimising tests per person (Dorfman) from the street's earlier results: the newest 4 rounds with results, more until their swabs reach 1,000 (listed in `rounds`); the rate taken (`prevalence`) is the higher of the rate over those rounds and the rate over the newest rounds whose swabs first reach 1,000 alone, so a rise shows at once and an abnormal pool is remembered for 4 rounds; lab_max must be a pool size (1, 5, 10 or 20)",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }, q("lab_max", "integer", "a smaller limit than the street's lab_max_pool (testing settings), which is the default", false)],
                "responses": ok(json!({ "type": "object", "properties": { "prevalence": { "type": "number", "nullable": true }, "tubes_seen": { "type": "integer" }, "swabs_seen": { "type": "integer", "description": "swabs in those tubes; below 100 there is no advice" }, "advice": { "type": "object", "nullable": true }, "lab_max": { "type": "integer" }, "rounds": { "type": "array", "items": { "type": "string" }, "description": "the rounds read, newest first" },
                    "abnormal_seen": { "type": "integer", "description": "abnormal pools among tubes_seen" },
                    "window_prevalence": { "type": "number", "nullable": true, "description": "the rate over all of rounds" },
                    "recent_prevalence": { "type": "number", "nullable": true, "description": "the rate over recent_rounds alone" },
                    "recent_rounds": { "type": "array", "items": { "type": "string" }, "description": "the newest rounds whose swabs first reach 1,000" } } })) } },
            "/api/v1/streets/{id}/testing-settings": {
                "get": { "summary": "the street's testing settings: tube barcode lengths and check character (none or luhn), the largest pool its lab accepts",
                    "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                    "responses": ok(json!({ "$ref": "#/components/schemas/TestingSettings" })) },
                "post": { "summary": "change the street's testing settings (absent fields are kept; validated whole; audited); stations take a new tube rule when enrolled again",
                    "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": {
                        "tube_min_len": { "type": "integer", "minimum": 4, "maximum": 40 }, "tube_max_len": { "type": "integer", "minimum": 4, "maximum": 40 },
                        "tube_check": { "type": "string", "enum": ["none", "luhn"] }, "lab_max_pool": { "type": "integer", "enum": [1, 5, 10, 20] } } } } } },
                    "responses": ok(json!({ "$ref": "#/components/schemas/TestingSettings" })) } },
            "/api/v1/rounds/{id}/state": { "post": { "summary": "move a round one step: planned → open → sampling_closed → results_complete → closed", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["to"], "properties": { "to": { "type": "string", "enum": ["open", "sampling_closed", "results_complete", "closed", "cancelled"], "description": "one step forward; a planned round can be cancelled" } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" }, "warnings": { "type": "array", "items": { "type": "string" }, "description": "what the move leaves unsettled (results_complete, closed): the count reconciliation's breaks; the move stands" } } })) } },
            "/api/v1/rounds/{id}/exemptions": { "get": { "summary": "who is exempt from the round in one community, grid or building, and why (the resident masked), newest first: to find a wrong exemption before the round closes (lift it with the post, reason none)", "parameters": [path_id("round id"), q("community", "string", "community id STREET-ID", false), q("grid", "string", "grid id STREET-ID", false), q("building", "string", "building id STREET-ID", false)],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object", "properties": { "resident": { "$ref": "#/components/schemas/Resident" }, "reason": { "type": "string", "description": "away, in_hospital, isolated_tested_there or deceased (已清除 once purged)" }, "set_by": { "type": "string" }, "created_ms": { "type": "integer" } } } } }, "required": ["items"] })) },
                "post": { "summary": "exempt a resident from a round with a reason (none: lift their exemption; 404 if there was none); refused (409) once the round is closed", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["resident", "reason"], "properties": {
                    "resident": { "type": "string" }, "reason": { "type": "string", "enum": ["away", "in_hospital", "isolated_tested_there", "deceased", "none"] } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "resident": { "type": "string" }, "reason": { "type": "string" } } })) } },
            "/api/v1/audit": { "get": { "summary": "the audit log (city-wide admins)",
                "parameters": [ q("user", "string", "actor (user:NAME or NAME)", false), q("resident", "string", "resident id STREET-ID", false), q("since_ms", "integer", "from this time", false), q("limit", "integer", "1..5000", false) ],
                "responses": ok(json!({ "type": "object", "properties": { "events": { "type": "array", "items": { "type": "object" } } }, "required": ["events"] })) } },
            "/api/v1/territory": { "get": { "summary": "territory tree (street → community → grid) with counts",
                "responses": ok(json!({ "type": "object", "properties": { "streets": { "type": "array", "items": { "$ref": "#/components/schemas/TreeNode" } } }, "required": ["streets"] })) } },
            "/api/v1/residents": { "get": { "summary": "list residents by territory, flag and status",
                "parameters": [
                    q("street", "integer", "street id", false), q("community", "string", "community id (STREET-ID)", false),
                    q("grid", "string", "grid id (STREET-ID)", false), q("building", "string", "building id (STREET-ID)", false),
                    q("household", "string", "household id (STREET-ID)", false), q("flag", "string", "comma-separated flag codes (any); health flags (dialysis, chronic_treatment, pregnant) are refused with 403", false),
                    q("status", "string", "active or pending", false), q("limit", "integer", "1..1000, default 100", false), q("offset", "integer", "default 0", false)
                ],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": resident }, "limit": { "type": "integer" }, "offset": { "type": "integer" } }, "required": ["items"] })) } },
            "/api/v1/residents/search": { "get": { "summary": "search by name, phone tail or ID tail",
                "parameters": [ q("q", "string", "name, or the last 4+ digits of a phone or ID number", true), q("street", "integer", "street id", false), q("limit", "integer", "1..500", false) ],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": resident } }, "required": ["items"] })) } },
            "/api/v1/residents/{id}": { "get": { "summary": "one resident (masked)", "parameters": [path_id("resident id")], "responses": ok(resident.clone()) } },
            "/api/v1/residents/pending": { "post": { "summary": "add a walk-in (pending resident, to be matched later)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["street", "name"], "properties": {
                    "street": { "type": "integer" }, "name": { "type": "string", "minLength": 1 }, "phone": { "type": "string" }, "document": { "type": "string" }, "notes": { "type": "string" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" }, "status": { "type": "string" } }, "required": ["id"] })) } },
            "/api/v1/residents/{id}/move": { "post": { "summary": "move one resident to another household of the street (writing the registry where they live and where they go); their swabs and codes stay theirs; audited. 404 for an unknown household, 409 for a purged resident", "parameters": [path_id("resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["household"], "properties": { "household": { "type": "string", "description": "STREET-ID" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["resident", "household"], "properties": { "resident": { "type": "string" }, "household": { "type": "string" } } })) } },
            "/api/v1/residents/{id}/leave": { "post": { "summary": "record that a resident left: deceased (离世) or moved out of the street (迁出本街道), on a day (today when none); writing the registry where they live; their data stays; rounds opened afterwards do not expect them and rounds still sampling exempt them with the reason. `reason: none` undoes a mistaken record (and lifts those exemptions). Audited. 409 for a resident not active (left already, pending, purged) or, on undo, not left", "parameters": [path_id("resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string", "enum": ["deceased", "moved_out", "none"] }, "on": { "type": "string", "description": "YYYY-MM-DD" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["resident", "status", "reason", "rounds"], "properties": { "resident": { "type": "string" }, "status": { "type": "string", "enum": ["left", "active"] }, "reason": { "type": "string" }, "on": { "type": "string", "nullable": true }, "rounds": { "type": "array", "items": { "type": "string" } } } })) } },
            "/api/v1/residents/{id}/flags": { "post": { "summary": "set and clear flags of one resident (writing the registry where they live; a health flag — dialysis, chronic_treatment, pregnant — also needs the right to see health flags); audited, health flags counted, not named. Answers the flags that are not health data", "parameters": [path_id("resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": {
                    "set": { "type": "array", "items": { "type": "string", "enum": ["cannot_go_downstairs", "elderly_alone", "dialysis", "chronic_treatment", "pregnant", "low_income", "child_alone", "no_smartphone"] } },
                    "clear": { "type": "array", "items": { "type": "string", "enum": ["cannot_go_downstairs", "elderly_alone", "dialysis", "chronic_treatment", "pregnant", "low_income", "child_alone", "no_smartphone"] } } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["resident", "flags"], "properties": { "resident": { "type": "string" }, "flags": { "type": "array", "items": { "type": "string" } }, "health_flags": { "type": "string" } } })) } },
            "/api/v1/residents/{id}/match": { "post": { "summary": "merge a pending walk-in into a registered resident (their swabs become the resident's); names that differ are refused with 409 unless `despite_name`", "parameters": [path_id("pending resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["target"], "properties": { "target": { "type": "string" }, "despite_name": { "type": "boolean", "description": "merge although the names differ (the walk-in's was mistyped)" } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "merged_into": { "type": "string" } }, "required": ["merged_into"] })) } },
            "/api/v1/households/{id}": { "get": { "summary": "a household and its members (masked)", "parameters": [path_id("household id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "address": { "type": "string", "nullable": true },
                    "community": { "type": "string", "nullable": true }, "grid": { "type": "string", "nullable": true }, "members": { "type": "array", "items": resident } }, "required": ["id", "members"] })) } },
            "/api/v1/control": {
                "get": { "summary": "control-status history of a compound, building, unit or household",
                    "parameters": [ q("target_kind", "string", "compound, building, unit or household", true), q("target_id", "string", "STREET-ID", true) ],
                    "responses": ok(json!({ "type": "object", "properties": { "target_kind": { "type": "string" }, "target_id": { "type": "string" }, "current": { "type": "string", "nullable": true },
                        "history": { "type": "array", "items": { "type": "object" } } }, "required": ["history"] })) },
                "post": { "summary": "set a control status (history is kept)",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["target_kind", "target_id", "status", "reason"], "properties": {
                        "target_kind": { "type": "string", "enum": ["compound", "building", "unit", "household"] }, "target_id": { "type": "string" },
                        "status": { "type": "string", "enum": ["sealed", "controlled", "precaution", "temporary"] },
                        "from_ms": { "type": "integer" }, "until_ms": { "type": "integer" }, "reason": { "type": "string" }, "set_by": { "type": "string" } } } } } },
                    "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" },
                        "calls_held": { "type": "integer", "description": "pushed calls (a point's slot, not yet ended) that named the place, now held back when the status keeps people at home (sealed, temporary)" },
                        "groups_told": { "type": "integer", "description": "group robots sent a stay-home message (暂停下楼) for those calls" },
                        "notice_failed": { "type": "boolean", "description": "the order is stored but the stay-home message could not be queued (the server tells it again within minutes)" } },
                        "required": ["id", "calls_held", "groups_told", "notice_failed"] })) }
            }
        },
        "security": [ { "bearer": [] }, { "session": [] } ],
        "components": {
          "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "the token from POST /api/v1/login" },
            "session": { "type": "apiKey", "in": "cookie", "name": "gw_session", "description": "the session cookie; state-changing requests also need the X-CSRF-Token header" }
          },
          "schemas": {
            "TestingSettings": { "type": "object", "required": ["street", "tube_min_len", "tube_max_len", "tube_check", "lab_max_pool", "warnings"], "properties": {
                "street": { "type": "integer" }, "tube_min_len": { "type": "integer" }, "tube_max_len": { "type": "integer" },
                "tube_check": { "type": "string", "enum": ["none", "luhn"] }, "lab_max_pool": { "type": "integer" },
                "warnings": { "type": "array", "items": { "type": "string" }, "description": "rounds whose tubes may still go to the lab (planned, open, sampling closed) pooling more than lab_max_pool, Chinese first: the limit holds for new rounds only" } } },
            "Code": { "type": "object", "required": ["resident", "code", "generation"], "properties": { "resident": { "type": "string" }, "code": { "type": "string" }, "generation": { "type": "integer" }, "key": { "type": "integer" } } },
            "Error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string" }, "message": { "type": "string" } } },
            "TreeNode": { "type": "object", "required": ["level", "id", "name", "buildings", "households", "residents"], "properties": {
                "level": { "type": "string" }, "id": { "type": "string" }, "name": { "type": "string" }, "code": { "type": "string", "nullable": true },
                "buildings": { "type": "integer" }, "households": { "type": "integer" }, "residents": { "type": "integer" },
                "children": { "type": "array", "items": { "$ref": "#/components/schemas/TreeNode" } } } },
            "Resident": { "type": "object", "required": ["id", "uid", "name", "masked"], "properties": {
                "id": { "type": "string" }, "uid": { "type": "string" }, "status": { "type": "string" }, "name": { "type": "string" }, "gender": { "type": "string" },
                "age": { "type": "integer", "nullable": true }, "document_kind": { "type": "string", "nullable": true }, "document_number": { "type": "string", "nullable": true },
                "phones": { "type": "array", "items": { "type": "object", "properties": { "number": { "type": "string" }, "relation": { "type": "string" } } } },
                "residence": { "type": "string" }, "flags": { "type": "array", "items": { "type": "string" } }, "health_flags": { "type": "string", "nullable": true, "description": "always `masked`: whether someone has a health flag is itself health data (a reveal, audited, shows them)" },
                "notes_present": { "type": "string", "enum": ["masked"], "description": "always `masked`, as `health_flags`: notes are where rosters write a pregnancy or a dialysis schedule, so whether someone has any is health data (a health reveal, audited, shows them)" }, "household": { "type": "string", "nullable": true }, "address": { "type": "string", "nullable": true },
                "building": { "type": "string", "nullable": true }, "grid": { "type": "string", "nullable": true }, "community": { "type": "string", "nullable": true },
                "masked": { "type": "boolean" } } }
        } }
    })
}

/// What a packing step answers (bag, box, hand-over, lab receipt).
fn packed() -> Value {
    json!({ "type": "object", "required": ["id", "tubes", "people", "counts_match", "mismatches", "replay"], "properties": {
        "id": { "type": "string" }, "barcode": { "type": "string" }, "bags": { "type": "integer", "nullable": true }, "boxes": { "type": "integer", "nullable": true },
        "tubes": { "type": "integer", "description": "tubes the system holds" }, "people": { "type": "integer", "description": "swabs in them" },
        "counts_match": { "type": "boolean" }, "mismatches": { "type": "array", "items": { "$ref": "#/components/schemas/Mismatch" } },
        "warnings": { "type": "array", "items": { "type": "string" } },
        "replay": { "type": "boolean", "description": "the request repeated exactly what is stored (a double tap, a retry): answered 200 from the record, nothing written again; a request that differs in anything is refused as before" } } })
}

/// A packing step's answers: 201 for a new record, 200 for a repeated one
/// (`replay`).
fn packed_or_replayed() -> Value {
    let mut r = created(packed());
    r["200"] = json!({ "description": "the same request again: answered from the record (`replay: true`), nothing written twice", "content": { "application/json": { "schema": packed() } } });
    r
}

/// What taking a swab back answers.
fn void_outcome() -> Value {
    json!({ "type": "object", "required": ["tube", "tube_fill", "point_count", "reopened", "withdrawn", "already", "message"], "properties": {
        "registration": { "type": "string", "nullable": true, "description": "none for a scan the server never stored" }, "tube": { "type": "string" },
        "tube_fill": { "type": "integer" }, "point_count": { "type": "integer" }, "reopened": { "type": "boolean", "description": "the tube had closed itself when full and is open again" },
        "promoted": { "type": "string", "nullable": true, "description": "the resident's swab that is now their first" },
        "withdrawn": { "type": "boolean", "description": "the tube was closed and this was its last live swab: the tube is withdrawn (its barcode free again, not expected in a bag)" },
        "already": { "type": "boolean", "description": "taken back before: nothing changed" }, "message": { "type": "string" } } })
}

fn body(required: &[&str], properties: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "required": required, "properties": properties } } } })
}

/// Supplies, packing, hand-off, lab receipt and reconciliation.
fn handoff_paths() -> Vec<(&'static str, Value)> {
    let barcodes = json!({ "type": "array", "items": { "type": "string" } });
    let supply = json!({ "type": "object", "properties": { "id": { "type": "string" }, "point": { "type": "string" }, "kind": { "type": "string" }, "kind_zh": { "type": "string" },
        "quantity": { "type": "integer" }, "first_barcode": { "type": "string", "nullable": true }, "last_barcode": { "type": "string", "nullable": true },
        "batch": { "type": "string", "nullable": true }, "received_by": { "type": "string" }, "issued_by": { "type": "string" }, "issued_ms": { "type": "integer" } } });
    vec![
        (
            "/api/v1/points/{id}/supplies",
            json!({
            "post": { "summary": "record supplies issued to a point: tubes by barcode range (first/last) or batch, kits, protective gear", "parameters": [path_id("point id")],
                "requestBody": body(&["kind"], json!({ "kind": { "type": "string", "enum": ["tubes", "kits", "protective_gear"] }, "quantity": { "type": "integer", "minimum": 1 },
                    "first_barcode": { "type": "string" }, "last_barcode": { "type": "string" }, "batch": { "type": "string", "description": "the batch code the barcodes start with" }, "received_by": { "type": "string" } })),
                "responses": created(supply.clone()) },
            "get": { "summary": "supplies issued to a point", "parameters": [path_id("point id")],
                "responses": ok(json!({ "type": "object", "properties": { "point": { "type": "string" }, "items": { "type": "array", "items": supply } }, "required": ["items"] })) } }),
        ),
        (
            "/api/v1/points/{id}/packing",
            json!({ "get": { "summary": "a point's packing table: closed tubes not yet bagged, its bags and boxes with the system's and the packers' counts, its hand-overs", "parameters": [path_id("point id")],
            "responses": ok(json!({ "type": "object", "properties": { "point": { "type": "string" }, "point_name": { "type": "string" }, "round": { "type": "string" }, "round_name": { "type": "string" },
                "bag_capacity": { "type": "integer" }, "tubes_to_bag": { "type": "array", "items": { "type": "object" } },
                "bags": { "type": "array", "items": { "type": "object" } }, "boxes": { "type": "array", "items": { "type": "object" } }, "handoffs": { "type": "array", "items": { "type": "object" } } } })) } }),
        ),
        (
            "/api/v1/points/{id}/bags",
            json!({ "post": { "summary": "pack closed tubes into a sealed bag (at most the round's bag capacity, 20 unless set); the packer's count is checked. The same bag sent again with the same tubes and count is answered 200 with `replay: true`; anything else about a bag already sealed (another count, other tubes) is refused (400) and nothing is stored. 400 also names what a wrong barcode is (a box's label, another point's tube, a tube in another bag)", "parameters": [path_id("point id")],
            "requestBody": body(&["barcode", "tubes", "counted_tubes"], json!({ "barcode": { "type": "string" }, "tubes": barcodes, "counted_tubes": { "type": "integer" } })),
            "responses": packed_or_replayed() } }),
        ),
        (
            "/api/v1/points/{id}/boxes",
            json!({ "post": { "summary": "pack sealed bags into a transport box; the packer's counts are checked. The same box sent again with the same bags and counts is answered 200 with `replay: true`; otherwise a bag already boxed is refused (400, naming its box), as is a tube's barcode or a box's label given as a bag", "parameters": [path_id("point id")],
            "requestBody": body(&["barcode", "bags", "counted_bags", "counted_tubes"], json!({ "barcode": { "type": "string" }, "bags": barcodes, "counted_bags": { "type": "integer" }, "counted_tubes": { "type": "integer" } })),
            "responses": packed_or_replayed() } }),
        ),
        (
            "/api/v1/points/{id}/recounts",
            json!({ "post": { "summary": "a packer's new physical count of a bag or box still at the point (a miscount at packing), with the reason (audited with the old and new counts); the step is checked again. 400: no such bag or box in the round, another point's, no reason, bags given for a bag or missing for a box; 409: its box has left the point (handed over, or received by the lab), or the round is closed", "parameters": [path_id("point id")],
            "requestBody": body(&["barcode", "counted_tubes", "reason"], json!({ "barcode": { "type": "string", "description": "the bag's or box's label" }, "counted_tubes": { "type": "integer" }, "counted_bags": { "type": "integer", "description": "a box's bags counted (a box only)" }, "reason": { "type": "string" } })),
            "responses": ok(packed()) } }),
        ),
        (
            "/api/v1/points/{id}/handoffs",
            json!({ "post": { "summary": "hand boxes to a transporter (a name and phone, or an account); the hand-over sheet's counts are checked. The same hand-over sent again (the same boxes, transporter and counts) is answered 200 with `replay: true`; a box already handed over otherwise is refused (400, naming its hand-over), as is a bag's label or a tube's barcode given as a box", "parameters": [path_id("point id")],
            "requestBody": body(&["boxes", "transporter", "counted_tubes"], json!({ "boxes": barcodes,
                "transporter": { "type": "object", "properties": { "name": { "type": "string" }, "phone": { "type": "string" }, "account": { "type": "string" } } },
                "counted_boxes": { "type": "integer" }, "counted_tubes": { "type": "integer" }, "counted_people": { "type": "integer" } })),
            "responses": packed_or_replayed() } }),
        ),
        (
            "/api/v1/rounds/{id}/receipts",
            json!({ "post": { "summary": "the lab receives boxes with its own counts (a box with no hand-over is received and flagged); `box_tubes` adds the tubes counted in any box on its own, so a break names its box. Per-box counts that contradict the total (every box counted and their sum is not `counted_tubes`, or some boxes counted and their sum is more) are refused (400), nothing stored. The same receipt sent again (the same boxes and counts) is answered 200 with `replay: true`; a box already received otherwise is refused (400, naming the receipt)", "parameters": [path_id("round id")],
            "requestBody": body(&["boxes", "counted_tubes"], json!({ "boxes": barcodes, "counted_boxes": { "type": "integer" }, "counted_tubes": { "type": "integer" }, "counted_people": { "type": "integer" }, "box_tubes": { "type": "object", "additionalProperties": { "type": "integer", "minimum": 0 }, "description": "tubes counted per box, by box barcode (boxes of this receipt only)" } })),
            "responses": packed_or_replayed() } }),
        ),
        (
            "/api/v1/rounds/{id}/bag-capacity",
            json!({ "post": { "summary": "set how many tubes go into one bag in this round (1–100; 20 unless set)", "parameters": [path_id("round id")],
            "requestBody": body(&["bag_capacity"], json!({ "bag_capacity": { "type": "integer", "minimum": 1, "maximum": 100 } })),
            "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "bag_capacity": { "type": "integer" },
                "over": { "type": "array", "description": "bags already sealed with more tubes than the new capacity: they stay as they are (the rule is for bags sealed from now on)", "items": { "type": "object", "properties": { "bag": { "type": "string" }, "tubes": { "type": "integer" } } } } } })) } }),
        ),
        (
            "/api/v1/rounds/{id}/reconciliation",
            json!({ "get": { "summary": "count reconciliation (数据统计校对): every count that does not match along point → bag → box → hand-off → lab, with the step where it broke",
            "parameters": [path_id("round id"), q("point", "string", "one point (STREET-ID)", false)],
            "responses": ok(json!({ "type": "object", "required": ["round", "matched", "mismatches", "steps"], "properties": {
                "round": { "type": "string" }, "point": { "type": "string", "nullable": true }, "bag_capacity": { "type": "integer" }, "matched": { "type": "boolean" },
                "mismatches": { "type": "array", "items": { "$ref": "#/components/schemas/Mismatch" } },
                "waiting": { "type": "array", "description": "counts short only because the work is still on its way (sealed tubes, bags and boxes made after the point's last hand-over while sampling runs; hand-overs the lab has received nothing of before results are complete): not breaks", "items": { "$ref": "#/components/schemas/Mismatch" } },
                "steps": { "type": "array", "items": { "type": "object" } }, "supplies": { "type": "array", "items": { "type": "object" } },
                "handoffs": { "type": "array", "items": { "type": "object" } } } })) } }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented() {
        let doc = super::document();
        for (method, path, _, _) in crate::routes() {
            if crate::is_page(path) {
                continue; // HTML pages and their assets are not API
            }
            let m = method.to_lowercase();
            assert!(
                doc["paths"][path][&m].is_object(),
                "{method} {path} missing from openapi.json"
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_object().unwrap().len())
            .sum();
        assert_eq!(
            documented,
            crate::routes()
                .iter()
                .filter(|(_, path, _, _)| !crate::is_page(path))
                .count(),
            "openapi.json documents a route the router lacks"
        );
    }
}
