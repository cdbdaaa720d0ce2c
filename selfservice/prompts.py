"""The IVR's prompts as the administrators edit them (系统管理 → 语音导航提示音): the menu file's texts
(data/ivr/menu.toml, `[prompts]` and each sub-menu's `prompt`, named "menu.<key path>": "menu.2",
"menu.2.1") are the defaults; an edited text is kept in the database
(`hotline.sitesettings.IVR_PROMPTS`, one JSON object {name: text}, each change audited) and every call reads
it when it starts (`effective_menu`, called by `selfservice.engine.Dialog.run`), in every worker process,
so an edit holds from the next call on without a restart. Restoring the default drops the edited text.

An edited text keeps the default's placeholders ({position}, {case_number} ...: the values the IVR fills
in), no others; the main menu and every sub-menu still name key 0 first (a person is always reachable)."""

from __future__ import annotations

import re
import string
from pathlib import Path

from sqlalchemy.orm import Session

from hotline import sitesettings
from selfservice.menu import Menu, spoken_path

MAX_PROMPT = 200  # characters: a prompt longer than this is too long to listen to on the phone
PREVIEW_RATE = 8000  # the preview sounds as the caller hears it (the phone line's rate and TTS cache file)
SUBMENU = "menu."  # a sub-menu's prompt is named by its key path: "menu.2.1"

# What each prompt is for, in the order the admin page lists them (the caller's path through the IVR).
LABELS: dict[str, str] = {
    "welcome": "欢迎语（每通电话开头）",
    "main_menu": "主菜单",
    "invalid": "按键有误",
    "no_input": "未听到输入",
    "not_understood": "未听清语音",
    "goodbye": "结束语",
    "category_intro": "栏目列表开头",
    "category_item": "栏目列表每一项",
    "category_tail": "栏目列表结尾",
    "category_empty": "栏目无内容",
    "document_title": "文档标题",
    "document_keys": "文档朗读按键说明",
    "document_end": "文档读完",
    "sms_number": "输入接收短信号码",
    "sms_sent": "短信已发送",
    "fax_number": "输入传真号码",
    "fax_sent": "传真已安排",
    "send_failed": "发送失败",
    "search_ask": "请说出问题",
    "search_results": "语音搜索结果开头",
    "search_item": "语音搜索结果每一项",
    "search_choose": "语音搜索选择说明",
    "search_none": "语音搜索无结果",
    "search_confirm": "确认唯一结果",
    "progress_case": "输入工单编号",
    "progress_password": "输入查询密码",
    "progress_result": "办理进度结果",
    "progress_wrong": "编号或密码错误",
    "progress_locked": "查询被暂停",
    "followup_ask": "回访评价",
    "followup_thanks": "感谢评价",
    "followup_rework": "不满意重办",
    "voicemail_intro": "留言开始",
    "voicemail_number": "留言联系电话",
    "confirm_number": "确认号码",
    "voicemail_saved": "留言已生成工单",
    "voicemail_kept": "留言已保存",
    "voicemail_empty": "未录到留言",
    "transfer": "转接人工",
    "online_agent": "网上语音不能转人工",
    "after_hours": "非工作时间",
    "agents_busy": "坐席全忙",
    "service_unavailable": "服务暂不可用",
    "queue_notice": "排队录音提示",
    "queue_position": "排队位置播报",
    "queue_next": "即将接通",
    "queue_callback_booked": "已预约回拨",
    "queue_no_agents": "无坐席值班",
    "queue_transfer_failed": "转接未接通",
}

# Example values the preview speaks in place of the placeholders.
SAMPLE_VALUES: dict[str, object] = {
    "category": "办事指南",
    "n": 1,
    "title": "住房公积金提取办理指南",
    "case_number": "2026112400015",
    "password": "386120",
    "status": "办理中",
    "update": "承办部门已签收，正在办理。",
    "number": "13800138000",
    "ahead": 3,
    "minutes": 2,
}


class PromptError(ValueError):
    """An edited prompt the IVR could not speak as it is (the message says why, in Chinese)."""


def placeholders(text: str) -> set[str]:
    """The placeholder names of a prompt ({title} -> "title"); raises PromptError for a brace that is
    not a plain placeholder ("{", "{0}", "{a.b}", "{a!r}", "{a:>5}")."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise PromptError("花括号只能用于占位符（如 {title}）；不要单独使用 { 或 }。") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise PromptError(f"占位符 {{{field}}} 的写法不对：只能写成 {{名称}}，如 {{title}}。")
        names.add(field)
    return names


def defaults(menu: Menu) -> dict[str, str]:
    """The menu file's texts by prompt name, the sub-menus' too: what "恢复默认" brings back."""
    return dict(menu.prompts) | {SUBMENU + path: item.prompt or "" for path, item in menu.submenus().items()}


def names(menu: Menu) -> list[str]:
    """The prompts in the order the admin page lists them: the caller's path, sub-menus after the main
    menu (in key order), then any prompt the page has no label for."""
    listed = [n for n in LABELS if n in menu.prompts]
    at = listed.index("main_menu") + 1 if "main_menu" in listed else len(listed)
    listed[at:at] = [SUBMENU + path for path in menu.submenus()]
    return listed + [n for n in menu.prompts if n not in LABELS]


def label(name: str) -> str:
    """What a prompt is for, as the admin page says it."""
    if name.startswith(SUBMENU):
        return f"子菜单（主菜单{spoken_path(name.removeprefix(SUBMENU))}）"
    return LABELS.get(name, name)


def edited(session: Session) -> dict[str, str]:
    """The prompts the administrators changed: {name: text} (empty when none)."""
    stored = sitesettings.read(session, sitesettings.IVR_PROMPTS) or {}
    return {str(k): str(v) for k, v in stored.items() if isinstance(v, str)}


def check(menu: Menu, name: str, text: str) -> str:
    """The text cleaned (line breaks dropped, spaces collapsed) if the IVR can speak it in place of prompt
    `name`; raises PromptError saying what is wrong."""
    default = defaults(menu).get(name)
    if default is None:
        raise PromptError("没有这个提示音。")
    text = re.sub(r"\s*[\r\n]+\s*", "", text or "")  # lines joined: Chinese needs no space between them
    text = " ".join(text.split())  # full-width and repeated spaces as one plain space
    if not text:
        raise PromptError("提示音不能为空。")
    if len(text) > MAX_PROMPT:
        raise PromptError(
            f"提示音最多 {MAX_PROMPT} 个字（现在 {len(text)} 个字），电话里太长的提示音听不完。"
        )
    if any(not ch.isprintable() for ch in text):
        raise PromptError("提示音不能含控制字符。")
    wanted, given = placeholders(default), placeholders(text)
    if missing := sorted(wanted - given):
        raise PromptError(
            "请保留占位符 " + "、".join(f"{{{p}}}" for p in missing) + "：通话时由系统填入实际内容。"
        )
    if extra := sorted(given - wanted):
        raise PromptError(
            "这条提示音不能使用占位符 "
            + "、".join(f"{{{p}}}" for p in extra)
            + (
                "；可用的有 " + "、".join(f"{{{p}}}" for p in sorted(wanted))
                if wanted
                else "；它没有可用的占位符"
            )
            + "。"
        )
    keys = re.findall(r"请按([0-9])", text)
    if (name == "main_menu" or name.startswith(SUBMENU)) and (not keys or keys[0] != "0"):
        raise PromptError(
            f"{'主菜单' if name == 'main_menu' else '子菜单'}须先播报“人工服务请按0”，再播报其他按键：来电人任何时候都能转人工。"
        )
    return text


def set_prompt(session: Session, menu: Menu, name: str, text: str, *, actor: str) -> str:
    """Store an edited prompt (checked; the same text as the default drops the edit), audited; returns
    the stored text."""
    text = check(menu, name, text)
    current = edited(session)
    if text == defaults(menu)[name]:
        current.pop(name, None)
    else:
        current[name] = text
    sitesettings.write(session, sitesettings.IVR_PROMPTS, current, actor=actor)
    return text


def restore_default(session: Session, menu: Menu, name: str, *, actor: str) -> None:
    """Drop the edited text of a prompt: the menu file's text holds again (audited)."""
    if name not in defaults(menu):
        raise PromptError("没有这个提示音。")
    current = edited(session)
    if name not in current:
        raise PromptError("这条提示音使用的已是默认内容。")
    del current[name]
    sitesettings.write(session, sitesettings.IVR_PROMPTS, current, actor=actor)


def effective_menu(session: Session, menu: Menu) -> Menu:
    """The menu with the administrators' prompts in place of the file's, the sub-menus' too. An edit
    that no longer fits the file (its placeholders changed, its sub-menu is gone) is skipped: the file's
    text speaks."""
    changes = edited(session)
    if not changes:
        return menu
    prompts, submenus = dict(menu.prompts), {}
    for name, text in changes.items():
        try:
            text = check(menu, name, text)
        except PromptError:
            continue
        if name.startswith(SUBMENU):
            submenus[name.removeprefix(SUBMENU)] = text
        else:
            prompts[name] = text
    return menu.model_copy(update={"prompts": prompts}).with_submenu_prompts(submenus)


def sample_text(menu: Menu, name: str, text: str) -> str:
    """The checked text with example values in its placeholders: what the preview speaks."""
    return check(menu, name, text).format(**SAMPLE_VALUES)


def preview(menu: Menu, name: str, text: str) -> Path:
    """A WAV of the text in the configured voice at the phone's rate, from the TTS cache (a prompt
    without placeholders lands in the file the phone line plays: its first caller hears it at once)."""
    import speech

    spoken = sample_text(menu, name, text)
    try:
        return speech.synthesize(spoken, rate=PREVIEW_RATE)
    except speech.SpeechError as exc:
        raise PromptError(f"无法朗读这段文字：{exc}") from exc
