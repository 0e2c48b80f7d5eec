//! The OpenAPI 3.0 document for `/api/v1`, written by hand and checked against
//! the route table by a test.

use serde_json::{json, Value};

fn err_responses() -> Value {
    json!({
        "400": { "description": "bad request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "404": { "description": "not found", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "409": { "description": "conflict", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "401": { "description": "not logged in", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "403": { "description": "forbidden", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "503": { "description": "database unavailable", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    })
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
    json!({ "name": "id", "in": "path", "required": true, "description": desc, "schema": { "type": "string", "pattern": "^[0-9]+-[0-9]+$" } })
}

pub fn document() -> Value {
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
                    "401": { "description": "wrong username or password", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
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
            "/api/v1/households/{id}/link": { "post": { "summary": "a new unguessable link for the household (printable as a QR)", "parameters": [path_id("household id")],
                "responses": created(json!({ "type": "object", "properties": { "household": { "type": "string" }, "token": { "type": "string" }, "path": { "type": "string" } }, "required": ["token"] })) } },
            "/api/v1/households/{id}/link/revoke": { "post": { "summary": "revoke every link of the household", "parameters": [path_id("household id")],
                "responses": ok(json!({ "type": "object", "properties": { "household": { "type": "string" }, "revoked": { "type": "integer" } } })) } },
            "/api/v1/household-link/{token}": { "get": { "summary": "what a household's link shows (no login: the token is the key)", "security": [],
                "parameters": [{ "name": "token", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": ok(json!({ "type": "object", "properties": { "address": { "type": "string", "nullable": true }, "members": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" }, "code": { "type": "string" } } } } }, "required": ["members"] })) } },
            "/api/v1/rounds": { "post": { "summary": "create a testing round over a street (planned)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["street", "name", "starts_ms", "ends_ms", "pool_size"], "properties": {
                    "street": { "type": "integer" }, "name": { "type": "string" }, "starts_ms": { "type": "integer" }, "ends_ms": { "type": "integer" }, "pool_size": { "type": "integer", "enum": [1, 5, 10, 20] } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" } }, "required": ["id"] })) } },
            "/api/v1/rounds/{id}/open": { "post": { "summary": "open a round: the expected population is fixed now", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" }, "expected": { "type": "integer" } } })) } },
            "/api/v1/rounds/{id}/points": { "post": { "summary": "add a testing point in a community", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["name", "community"], "properties": {
                    "name": { "type": "string" }, "community": { "type": "string" }, "stations": { "type": "integer" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" } }, "required": ["id"] })) } },
            "/api/v1/rounds/{id}/coverage": { "get": { "summary": "expected, sampled and missed per grid the caller may read", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "expected": { "type": "integer" }, "sampled": { "type": "integer" }, "missed": { "type": "integer" }, "grids": { "type": "array", "items": { "type": "object" } } } })) } },
            "/api/v1/rounds/{id}/missed": { "get": { "summary": "the missed list of one grid (masked)", "parameters": [path_id("round id"), q("grid", "string", "grid id STREET-ID", true)],
                "responses": ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Resident" } } } })) } },
            "/api/v1/points/{id}/tubes": { "post": { "summary": "open a tube at a point by its barcode", "parameters": [path_id("point id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["barcode"], "properties": { "barcode": { "type": "string" }, "reuse": { "type": "boolean", "description": "a station replaying its own open: the tube already open under this barcode at this point is answered with 200 instead of 409" } } } } } },
                "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" }, "reused": { "type": "boolean" } }, "required": ["id"] })) } },
            "/api/v1/tubes/{id}/scans": { "post": { "summary": "register one swab (always stored; exactly once per client_id)", "parameters": [path_id("tube id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["client_id"], "properties": {
                    "client_id": { "type": "string" }, "code": { "type": "string" },
                    "walk_in": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "phone": { "type": "string" } } }, "purpose": { "type": "string", "enum": ["routine", "door_to_door", "retest", "resample"] },
                    "station": { "type": "string" }, "scanned_ms": { "type": "integer" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["registration", "replay", "tube_fill", "point_count"], "properties": {
                    "registration": { "type": "string" }, "replay": { "type": "boolean" }, "resident": { "type": "string", "nullable": true }, "purpose": { "type": "string" },
                    "duplicate_of": { "type": "object", "nullable": true }, "problem": { "type": "string" }, "tube_fill": { "type": "integer" }, "pool_size": { "type": "integer" }, "point_count": { "type": "integer" } } })) } },
            "/api/v1/tubes/{id}/close": { "post": { "summary": "close a tube by hand", "parameters": [path_id("tube id")],
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" } } })) } },
            "/api/v1/points/{id}/stations": { "post": { "summary": "issue a one-time enrolment code for a scanning station at a point (shown once)", "parameters": [path_id("point id")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "label": { "type": "string" } } } } } },
                "responses": created(json!({ "type": "object", "required": ["station", "enroll_code"], "properties": { "station": { "type": "string" }, "enroll_code": { "type": "string" }, "expires_ms": { "type": "integer" } } })) } },
            "/api/v1/enroll": { "post": { "summary": "exchange a one-time enrolment code for a station's bearer token (shown once)", "security": [],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["code"], "properties": { "code": { "type": "string" } } } } } },
                "responses": ok(json!({ "type": "object", "required": ["station", "token"], "properties": { "station": { "type": "string" }, "token": { "type": "string" }, "point": { "type": "string" }, "round": { "type": "string" }, "expires_ms": { "type": "integer" }, "point_name": { "type": "string" }, "round_name": { "type": "string" }, "pool_size": { "type": "integer" } } })) } },
            "/api/v1/stations/{id}/revoke": { "post": { "summary": "revoke a station's token", "parameters": [path_id("station id")],
                "responses": ok(json!({ "type": "object", "properties": { "station": { "type": "string" }, "revoked": { "type": "boolean" } } })) } },
            "/api/v1/rounds/{id}/results": { "post": { "summary": "the lab's results by tube barcode; an abnormal pool is traced to its members in the answer", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["results"], "properties": { "results": { "type": "array", "items": {
                    "type": "object", "required": ["barcode", "result"], "properties": { "barcode": { "type": "string" }, "result": { "type": "string" } } } } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "recorded": { "type": "integer" }, "already": { "type": "array", "items": { "type": "string" } }, "unknown": { "type": "array", "items": { "type": "string" } },
                    "negative": { "type": "integer" }, "invalid": { "type": "integer" }, "alerts": { "type": "array", "items": { "type": "object" } } } })) } },
            "/api/v1/rounds/{id}/alerts": { "get": { "summary": "the round's abnormal pools with the members the caller may read", "parameters": [path_id("round id")],
                "responses": ok(json!({ "type": "object", "properties": { "round": { "type": "string" }, "alerts": { "type": "array", "items": { "type": "object" } } } })) } },
            "/api/v1/rounds/{id}/door-to-door": { "get": { "summary": "who to sample at their door in a grid (cannot go downstairs, or sealed / temporary control), by building and floor", "parameters": [path_id("round id"), q("grid", "string", "grid id STREET-ID", true)],
                "responses": ok(json!({ "type": "object", "properties": { "floors": { "type": "array", "items": { "type": "object" } } } })) } },
            "/api/v1/streets/{id}/pool-advice": { "get": { "summary": "pool size minimising tests per person (Dorfman) from the street's earlier results",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }, q("lab_max", "integer", "largest pool the lab accepts (default 10)", false)],
                "responses": ok(json!({ "type": "object", "properties": { "prevalence": { "type": "number", "nullable": true }, "tubes_seen": { "type": "integer" }, "advice": { "type": "object", "nullable": true }, "lab_max": { "type": "integer" } } })) } },
            "/api/v1/rounds/{id}/state": { "post": { "summary": "move a round one step: planned → open → sampling_closed → results_complete → closed", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["to"], "properties": { "to": { "type": "string", "enum": ["open", "sampling_closed", "results_complete", "closed"] } } } } } },
                "responses": ok(json!({ "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" } } })) } },
            "/api/v1/rounds/{id}/exemptions": { "post": { "summary": "exempt a resident from a round with a reason", "parameters": [path_id("round id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["resident", "reason"], "properties": {
                    "resident": { "type": "string" }, "reason": { "type": "string", "enum": ["away", "in_hospital", "isolated_tested_there", "deceased"] } } } } } },
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
            "/api/v1/residents/{id}/match": { "post": { "summary": "merge a pending walk-in into a registered resident", "parameters": [path_id("pending resident id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["target"], "properties": { "target": { "type": "string" } } } } } },
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
                    "responses": created(json!({ "type": "object", "properties": { "id": { "type": "string" } }, "required": ["id"] })) }
            }
        },
        "security": [ { "bearer": [] }, { "session": [] } ],
        "components": {
          "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "the token from POST /api/v1/login" },
            "session": { "type": "apiKey", "in": "cookie", "name": "gw_session", "description": "the session cookie; state-changing requests also need the X-CSRF-Token header" }
          },
          "schemas": {
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
                "residence": { "type": "string" }, "flags": { "type": "array", "items": { "type": "string" } }, "health_flags": { "type": "string", "nullable": true },
                "notes_present": { "type": "boolean" }, "household": { "type": "string", "nullable": true }, "address": { "type": "string", "nullable": true },
                "building": { "type": "string", "nullable": true }, "grid": { "type": "string", "nullable": true }, "community": { "type": "string", "nullable": true },
                "masked": { "type": "boolean" } } }
        } }
    })
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
