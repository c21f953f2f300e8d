"""The OpenAPI 3.1 document of /api/v1, built as a dict; tests/test_api.py checks it against the URL map."""
from __future__ import annotations

from ..domain.lifecycle import ACTIONS, STATES
from ..domain.roles import TERRITORY_LEVELS, UNIT_KINDS, URGENCY_LABELS
from ..domain.tickets import (
    CHANNELS, CONTACT_METHODS, KINDS, REJECT_REASONS, RETURN_REASONS, SATISFACTION, TRANSFER_TARGETS,
)
from ..__version__ import __version__
from .body import FILE_ACTIONS

TEXT = {"type": "string"}
CODE = {"type": "string", "description": "代码"}
TIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601，带时区偏移（+08:00）"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}


def _enum(labels: dict, description: str = "") -> dict:
    listing = "；".join(f"{k} {v}" for k, v in labels.items())
    return {"type": "string", "enum": list(labels), "description": f"{description}（{listing}）" if description else listing}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict, required: tuple = (), description: str = "") -> dict:
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


INTAKE_FIELDS = {
    "channel": _enum(CHANNELS, "渠道"),
    "kind": _enum(KINDS, "诉求类型"),
    "urgency": _enum(URGENCY_LABELS, "紧急程度"),
    "caller_name": {"type": "string", "maxLength": 40, "description": "诉求人姓名（匿名时可空）"},
    "caller_phone": {"type": "string", "description": "来电号码：手机 11 位或带区号的座机（匿名时可空）"},
    "id_number": {"type": "string", "description": "身份证号（可选，18 位）"},
    "anonymous": BOOL,
    "confidential": {"type": "boolean", "description": "保密"},
    "address": {"type": "string", "maxLength": 200},
    "territory": {"type": "string", "description": "属地代码（村/社区或乡镇），见 GET /territories"},
    "category": {"type": "string", "description": "事项小类代码，见 GET /categories"},
    "title": {"type": "string", "maxLength": 100},
    "content": {"type": "string", "maxLength": 5000},
}

DISPATCH_FIELDS = {
    "lead_unit": {"type": "string", "description": "牵头单位代码，见 GET /units"},
    "co_units": {"description": "协办单位代码：数组，或用逗号分隔的文本",
                 "anyOf": [{"type": "array", "items": TEXT}, TEXT]},
    "urgency": _enum(URGENCY_LABELS, "紧急程度（不填沿用工单的）"),
    "note": {"type": "string", "maxLength": 1000, "description": "派单意见"},
}

# action -> (properties, required, what it does)
ACTION_BODIES: dict[str, tuple[dict, tuple, str]] = {
    "answer_directly": ({"answer": TEXT}, ("answer",), "待派单的工单直接答复并办结（话务员、中心）。"),
    "dispatch": (DISPATCH_FIELDS, ("lead_unit",), "派单给牵头单位和协办单位，按日历算出签收和办结时限（中心）。"),
    "sign": ({}, (), "签收（承办单位）。"),
    "contact": ({"method": _enum(CONTACT_METHODS, "联系方式"), "contacted_at": TIME, "note": TEXT}, ("method",),
                "记录联系诉求人（承办单位）；contacted_at 不填即现在。"),
    "note": ({"note": TEXT}, ("note",), "办理记录。"),
    "co_reply": ({"part": TEXT}, ("part",), "协办单位向牵头单位提交协办意见。"),
    "reply": ({"result": TEXT}, ("result",), "牵头单位答复办理结果，可带照片或 PDF（multipart 的 files 字段）。"),
    "request_extension": ({"workdays": {"type": "integer", "minimum": 1}, "reason": TEXT}, ("workdays", "reason"),
                          "申请延期（牵头单位，最多一次，总期限不超过配置的工作日数）。"),
    "decide_extension": ({"approve": BOOL, "reason": TEXT}, ("approve",), "审核延期（中心）；不同意时须填 reason。"),
    "request_return": ({"reason_code": _enum(RETURN_REASONS, "退单原因"), "reason": TEXT}, ("reason_code", "reason"),
                       "申请退单（派单后配置的工作日内）。"),
    "decide_return": ({"approve": BOOL, "reason": TEXT}, ("approve",), "审核退单（中心）；同意则回到待派单。"),
    "send_back": ({"reason": TEXT}, ("reason",), "把答复退回重办（中心）。"),
    "escalate": ({"reason": TEXT}, ("reason",), "无法确定牵头单位时上报县政府协调（中心）。"),
    "reject": ({"reason_code": _enum(REJECT_REASONS, "不予受理原因"), "reason": TEXT}, ("reason_code",),
               "不予受理（中心）；原因为 other 时须填 reason。"),
    "transfer": ({"target": _enum(TRANSFER_TARGETS, "移送去向"), "note": TEXT}, ("target", "note"), "移送（中心）。"),
    "callback": ({"resolved": BOOL, "satisfaction": _enum(SATISFACTION, "满意度"),
                  "outcome": {"type": "string", "enum": ["close", "reopen"], "description": "close 办结；reopen 重办"},
                  "note": TEXT}, ("resolved", "satisfaction", "outcome"), "回访（话务员、中心）：办结或重办。"),
    "update": ({**INTAKE_FIELDS, "reason": {"type": "string", "description": "修改原因"}}, (),
               "修改未办结工单的要素（话务员、中心）；只需给出要改的字段。"),
}
def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


RESPONSES = {
    "BadRequest": _error("请求体不是 JSON 对象（bad_json）"),
    "Unauthorized": _error("缺少令牌、令牌无效或已撤销（unauthorized）"),
    "Forbidden": _error("令牌的角色不能做这个操作（forbidden）"),
    "NotFound": _error("工单不存在，或本单位无权查看（not_found）：两者不加区分"),
    "Conflict": _error("当前状态不允许这个操作（invalid_transition），或工单刚被他人更新（conflict）"),
    "TooLarge": _error("附件超过大小上限（too_large）"),
    "Invalid": _error("内容有误（invalid）；errors 按字段给出原因"),
}


def _responses(ok: dict, *errors: str) -> dict:
    out = dict(ok)
    codes = {"BadRequest": "400", "Unauthorized": "401", "Forbidden": "403", "NotFound": "404", "Conflict": "409",
             "TooLarge": "413", "Invalid": "422"}
    for name in errors:
        out[codes[name]] = {"$ref": f"#/components/responses/{name}"}
    return out


def _json_ok(schema: dict, description: str, status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


NUMBER_PARAM = {"name": "number", "in": "path", "required": True, "schema": TEXT, "description": "工单编号"}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
               "description": "同一令牌用同一个键重发同一请求，只生效一次，返回第一次的结果（响应头 Idempotent-Replayed: true）"}


def _action_path(action: str) -> dict:
    props, required, what = ACTION_BODIES[action]
    schema = _obj({**props, "version": {"type": "integer", "description": "工单版本号；与当前不一致时 409 conflict"}},
                  required)
    content = {"application/json": {"schema": schema}}
    errors = ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "Invalid"]
    if action in FILE_ACTIONS:
        files = {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "照片（JPG/PNG/WebP）或 PDF"}
        content["multipart/form-data"] = {"schema": _obj({**props, "version": INT, "files": files}, required)}
        errors.insert(5, "TooLarge")
    return {"post": {
        "operationId": action, "summary": f"{ACTIONS[action]}", "description": what, "tags": ["工单办理"],
        "parameters": [NUMBER_PARAM, IDEMPOTENCY],
        "requestBody": {"required": bool(required), "content": content},
        "responses": _responses(_json_ok(_ref("Ticket"), "操作后的工单"), *errors),
    }}


def _schemas() -> dict:
    unit_ref = _obj({"code": CODE, "name": TEXT, "assigned_at": TIME, "signed_at": TIME, "part": TEXT, "part_at": TIME})
    event = _obj({
        "id": INT, "at": TIME, "actor_name": TEXT, "role": TEXT, "unit_code": _nullable(TEXT),
        "action": _enum(ACTIONS, "操作"), "action_label": TEXT,
        "from_state": _nullable(TEXT), "to_state": TEXT, "note": TEXT, "details": {"type": "object"},
    })
    request = _obj({
        "id": INT, "kind": {"type": "string", "enum": ["extension", "return"]}, "unit_code": CODE,
        "requested_at": TIME, "workdays": _nullable(INT), "reason_code": _nullable(TEXT), "reason": TEXT,
        "new_due_at": TIME, "status": {"type": "string", "enum": ["pending", "approved", "refused"]},
    })
    attachment = _obj({"id": INT, "event_id": _nullable(INT), "mime": TEXT, "size": INT, "label": TEXT,
                       "unit_code": _nullable(TEXT), "uploaded_at": TIME})
    state = _enum(STATES, "状态")
    common = {
        "number": TEXT, "state": state, "state_label": TEXT, "channel": _enum(CHANNELS), "kind": _enum(KINDS),
        "urgency": _enum(URGENCY_LABELS), "received_at": TIME, "caller_name": TEXT, "caller_phone": TEXT,
        "anonymous": BOOL, "confidential": BOOL, "title": TEXT, "dispatched_at": TIME, "sign_deadline": TIME,
        "due_at": TIME, "replied_at": TIME, "version": INT,
    }
    ticket = _obj({
        **common, "created_at": TIME, "updated_at": TIME, "id_number": TEXT, "address": TEXT, "content": TEXT,
        "signed_at": TIME, "first_contact_at": TIME, "closed_at": TIME, "answer": TEXT, "reply": TEXT,
        "resolved": _nullable(BOOL), "satisfaction": _nullable(_enum(SATISFACTION)),
        "extension_count": INT, "return_count": INT, "reopen_count": INT, "sent_back_count": INT,
        "territory": _obj({"code": CODE, "name": TEXT, "township_code": CODE, "township": TEXT}),
        "category": _obj({"code": CODE, "name": TEXT, "major": TEXT}),
        "lead_unit": _nullable(_ref("TicketUnit")), "co_units": {"type": "array", "items": _ref("TicketUnit")},
        "pending_requests": {"type": "array", "items": _ref("Request")},
        "attachments": {"type": "array", "items": _ref("Attachment")},
        "flags": {"type": "array", "items": {"type": "string", "enum": ["mass_event", "repeat_caller"]},
                  "description": "工单所在重点督办事项的规则：repeat_caller 一人多次；mass_event 一事多人"},
        "key_supervision": {"type": ["integer", "null"],
                            "description": "工单所在的重点督办事项编号（督办中的优先），不在重点督办中为 null"},
        "events": {"type": "array", "items": _ref("Event"), "description": "全流程轨迹，按时间先后"},
    }, ("number", "state", "sign_deadline", "due_at", "lead_unit", "co_units", "pending_requests", "flags", "events"))
    summary = _obj({
        **common, "lead_unit": _nullable(_obj({"code": CODE, "name": TEXT})),
        "territory": _obj({"code": CODE, "name": TEXT}), "category": _obj({"code": CODE, "name": TEXT}),
    })
    intake = _obj({
        **INTAKE_FIELDS,
        "received_at": {"type": "string", "format": "date-time", "description": "受理时间（外来转办时填；不填即现在）"},
        "then": {"type": "string", "enum": ["save", "dispatch", "answer_directly"],
                 "description": "保存后：save 等待派单（默认）；dispatch 立即派单（中心，带派单字段）；"
                                "answer_directly 直接答复（带 answer）"},
        **{k: v for k, v in DISPATCH_FIELDS.items() if k != "urgency"},
        "answer": {"type": "string", "description": "then=answer_directly 时的答复内容"},
    }, ("channel", "kind", "urgency", "territory", "category", "title", "content"))
    error = _obj({"error": _obj({
        "code": {"type": "string", "description": "unauthorized, not_found, invalid_transition, conflict, invalid, "
                                                  "too_large, bad_json, forbidden …"},
        "message": {"type": "string", "description": "中文说明，可直接显示给用户"},
        "errors": {"type": "object", "additionalProperties": TEXT, "description": "422 时按字段给出的原因"},
    }, ("code", "message"))}, ("error",))
    listing = {
        "Unit": _obj({"code": CODE, "name": TEXT, "kind": _enum(UNIT_KINDS), "kind_label": TEXT}),
        "Territory": _obj({"code": CODE, "name": TEXT, "level": _enum(TERRITORY_LEVELS), "parent_code": _nullable(CODE)}),
        "Category": _obj({"code": CODE, "name": TEXT, "major_code": CODE, "major_name": TEXT,
                          "urgency": _enum(URGENCY_LABELS)}),
    }
    return {"Ticket": ticket, "TicketSummary": summary, "TicketInput": intake, "TicketUnit": unit_ref, "Event": event,
            "Request": request, "Attachment": attachment, "Error": error, **listing,
            "TicketPage": _obj({"items": {"type": "array", "items": _ref("TicketSummary")}, "total": INT, "page": INT,
                                "pages": INT, "per_page": INT})}


def _items(name: str) -> dict:
    return _obj({"items": {"type": "array", "items": _ref(name)}})


def _query(name: str, description: str, schema: dict = TEXT) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _notifications_path() -> dict:
    """GET /notifications: the token's own reminders and notices."""
    from ..domain.reminders import KINDS

    item = _obj({
        "id": INT, "kind": {"type": "string", "description": "类别：" + "；".join(f"{k} {v}" for k, v in KINDS.items())
                                                          + "（以后可能增加新的类别）"},
        "kind_label": TEXT, "ticket": {"type": ["string", "null"], "description": "工单编号（全县通报等为 null）"},
        "text": TEXT, "deadline": TIME, "created_at": TIME,
        "late": {"type": "boolean", "description": "true：服务器停机期间到期、开机后补发的提醒"},
    }, ("id", "kind", "ticket", "text", "deadline", "created_at", "late"))
    return {"get": {
        "operationId": "notifications", "summary": "本令牌的提醒", "tags": ["提醒"],
        "description": "承办单位令牌得到本单位的提醒（即将到期、超期等），其他角色令牌得到发给该角色的提醒；新的在前。"
                       "轮询时用 since_id 只取比上次最大 id 更新的。",
        "parameters": [
            _query("since_id", "只返回 id 大于它的（默认 0）", {"type": "integer", "minimum": 0}),
            _query("limit", "最多返回几条（1–200，默认 50）", {"type": "integer", "minimum": 1, "maximum": 200}),
        ],
        "responses": _responses(_json_ok(_obj({"items": {"type": "array", "items": item}}), "提醒列表"),
                                "Unauthorized", "Invalid"),
    }}


def _paths() -> dict:
    read_errors = ("Unauthorized",)
    paths = {
        "/tickets": {
            "post": {
                "operationId": "intake", "summary": "受理", "tags": ["工单"],
                "description": "登记一张工单（话务员、中心令牌）；可用 then 在同一事务里派单或直接答复。任何一步有错，整张工单都不保存。",
                "parameters": [IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TicketInput")}}},
                "responses": _responses(_json_ok(_ref("Ticket"), "新工单（响应头 Location 指向它）", "201"),
                                        "BadRequest", "Unauthorized", "Forbidden", "Conflict", "Invalid"),
            },
            "get": {
                "operationId": "search", "summary": "查询工单", "tags": ["工单"],
                "description": "按条件分页查询，新的在前；承办单位令牌只看到本单位的工单。",
                "parameters": [
                    _query("phone", "来电号码"), _query("state", "状态", _enum(STATES)),
                    _query("unit", "牵头单位代码"), _query("q", "标题、内容、姓名、地址中的文字（中文子串）"),
                    _query("overdue", "1 只看已超期", {"type": "string", "enum": ["1", "0", "true", "false"]}),
                    _query("page", "页码，从 1 开始（每页 30 条）", {"type": "integer", "minimum": 1}),
                ],
                "responses": _responses(_json_ok(_ref("TicketPage"), "一页工单"), "Unauthorized", "Invalid"),
            },
        },
        "/tickets/{number}": {"get": {
            "operationId": "ticket", "summary": "查看工单", "tags": ["工单"],
            "description": "状态、签收和办结时限、牵头和协办单位、待审核的申请、轨迹。",
            "parameters": [NUMBER_PARAM],
            "responses": _responses(_json_ok(_ref("Ticket"), "工单"), *read_errors, "NotFound"),
        }},
        **{f"/tickets/{{number}}/{action}": _action_path(action) for action in ACTION_BODIES},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "本文档", "tags": ["目录"], "security": [],
            "responses": _json_ok({"type": "object"}, "OpenAPI 3.1 文档"),
        }},
    }
    for path, name, what in (("/units", "Unit", "承办单位"), ("/territories", "Territory", "属地（乡镇在前，随后是它的村/社区）"),
                             ("/categories", "Category", "派单目录的事项小类")):
        paths[path] = {"get": {
            "operationId": path.strip("/"), "summary": what, "tags": ["目录"],
            "responses": _responses(_json_ok(_items(name), what), *read_errors),
        }}
    paths["/notifications"] = _notifications_path()
    paths.update(_key_supervision_paths())
    return paths


def _key_supervision_paths() -> dict:
    """GET /key-supervision and the link / unlink of two tickets (app/api/supervision.py)."""
    from ..domain.repeats import RULES
    from ..services.supervision import CLOSE_KINDS, STATUSES

    item = _obj({
        "id": INT, "rule": _enum(RULES, "规则"), "rule_label": TEXT, "status": _enum(STATUSES, "状态"),
        "title": TEXT, "first_at": TIME, "last_at": TIME, "ticket_count": INT,
        "caller_count": {"type": "integer", "description": "不同诉求人数（同一号码算一人）"},
        "open_count": {"type": "integer", "description": "未办结的工单数"}, "created_at": TIME, "closed_at": TIME,
        "close_kind": _nullable(_enum(CLOSE_KINDS, "结束方式")), "close_reason": TEXT,
        "township_code": _nullable(CODE), "territory_code": _nullable(CODE), "category_code": _nullable(CODE),
    }, ("id", "rule", "status", "title", "ticket_count", "caller_count"))
    listing = _obj({"items": {"type": "array", "items": item}, "total": INT, "page": INT, "pages": INT, "per_page": INT})
    paths = {"/key-supervision": {"get": {
        "operationId": "key_supervision", "summary": "重点督办事项", "tags": ["重点督办"],
        "description": "一人多次、一事多人自动纳入和中心指定的重点督办事项（中心、领导令牌）；督办中的在前，最近有来电的在前。",
        "parameters": [
            _query("rule", "规则", _enum(RULES)), _query("status", "状态（不填为全部）", _enum(STATUSES)),
            _query("township", "乡镇代码"), _query("unit", "牵头单位代码（事项中有该单位承办的工单）"),
            _query("from", "最近来电不早于这一天（YYYY-MM-DD）", {"type": "string", "format": "date"}),
            _query("to", "首次来电不晚于这一天（YYYY-MM-DD）", {"type": "string", "format": "date"}),
            _query("page", "页码，从 1 开始（每页 30 条）", {"type": "integer", "minimum": 1}),
        ],
        "responses": _responses(_json_ok(listing, "一页重点督办事项"), "Unauthorized", "Forbidden", "Invalid"),
    }}}
    for action, what in (("link", "把两张工单关联为同一事项（中心）：可能使一人多次、一事多人达到条件，中心指定的督办事项会带上另一张工单。"),
                         ("unlink", "确认两张工单不是同一事项（中心）：以后不再按内容相似把它们归为一组，督办事项中随之移出。")):
        schema = _obj({"other": {"type": "string", "description": "另一张工单的编号"},
                       "note": {"type": "string", "description": "说明"}}, ("other",))
        paths[f"/tickets/{{number}}/{action}"] = {"post": {
            "operationId": action, "summary": "关联工单" if action == "link" else "解除关联", "description": what,
            "tags": ["重点督办"], "parameters": [NUMBER_PARAM],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": _responses(_json_ok(_ref("Ticket"), "编号为 number 的工单（含 flags 与 key_supervision）"),
                                    "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "Invalid"),
        }}
    return paths


def document() -> dict:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "12345 接诉即办 集成接口",
            "version": __version__,
            "description": "供网站、微信等渠道和脚本调用。令牌用 `hotline create-token` 创建，按令牌的角色和单位办事；"
                           "时间均为 ISO 8601 带时区偏移。出错时返回 {\"error\": {\"code\", \"message\"}}。",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "工单"}, {"name": "工单办理"}, {"name": "重点督办"}, {"name": "目录"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Authorization: Bearer <令牌>"}},
            "schemas": _schemas(),
            "responses": RESPONSES,
        },
    }
