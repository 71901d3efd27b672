"""知识库 (BZ-1): policy documents with their images and attachments, searchable in Chinese.

Documents are segmented with jieba in search mode (``lcut_for_search``) when they are saved; the
terms with their counts go into ``policy_terms`` (the inverted index), rebuilt whenever the text
changes. A query is segmented the same way and expanded with the synonym map
(``knowledge_synonyms.yaml``: 低保 ↔ 最低生活保障 …); documents are ranked with BM25, a term in the
title counting as ``TITLE_WEIGHT`` extra occurrences.

jieba runs in a private ``jieba.Tokenizer`` (the package's own dictionary plus the map's domain
words), quiet, with its dictionary cache under the system temp folder; nothing is downloaded.

A document belongs to the jurisdiction of whoever created it (the seed: the province): editing,
attaching (edit_catalogue) and publishing or withdrawing (publish_catalogue) are authorised there
and audited. Images are PNG or JPEG, attachments PDF, DOCX, XLSX or UTF-8 text, each checked by its
content (magic bytes; images decoded with Pillow), at most 10 MB, with the SM3 digest stored.
"""

from __future__ import annotations

import io
import logging
import math
import re
import tempfile
import unicodedata
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jiuzhu import access, audit, regions
from jiuzhu.business.models import AidItem, PolicyAttachment, PolicyDocument, PolicyTerm, User
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification.signing import sm3

HERE = Path(__file__).resolve().parent
SYNONYMS = HERE / "knowledge_synonyms.yaml"
SEED = HERE / "policy_documents.yaml"
STATUS_ZH = {"draft": "草稿", "published": "已发布", "withdrawn": "已撤回"}
MAX_BYTES = 10 * 1024 * 1024
TITLE_WEIGHT = 3.0  # a title occurrence counts as this many extra body occurrences
SYNONYM_WEIGHT = 0.8  # a term that only a synonym brought into the query
BM25_K1, BM25_B = 1.5, 0.75
MAX_TERM = 64  # policy_terms.term
# Single characters too common to tell documents apart (longer terms are always kept).
STOP_CHARS = frozenset("的了和与及或在是为对由按将等其之于以并被把从向可应须也而所则如即至中上下个各每该此本有其")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# media type -> (kind, accepted file extensions, name shown to the user)
FILE_TYPES = {
    "image/png": ("image", (".png",), "PNG图片"),
    "image/jpeg": ("image", (".jpg", ".jpeg"), "JPEG图片"),
    "application/pdf": ("attachment", (".pdf",), "PDF文件"),
    DOCX: ("attachment", (".docx",), "Word文档(DOCX)"),
    XLSX: ("attachment", (".xlsx",), "Excel表格(XLSX)"),
    "text/plain": ("attachment", (".txt",), "文本文件(TXT)"),
}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_TYPES_ZH = "图片仅限PNG、JPEG,附件仅限PDF、DOCX、XLSX、TXT"


class KnowledgeError(CodedError):
    """A knowledge-base step refused, with why (in Chinese)."""


# --- segmentation ---------------------------------------------------------------------------------------

@cache
def _vocabulary() -> dict:
    doc = yaml.safe_load(SYNONYMS.read_text(encoding="utf-8"))
    groups = [tuple(str(p).strip() for p in g if str(p).strip()) for g in doc.get("groups") or []]
    return {"words": [str(w).strip() for w in doc.get("words") or [] if str(w).strip()],
            "groups": [g for g in groups if len(g) > 1]}


@cache
def _tokenizer():
    import jieba  # loaded on first use: importing this module stays cheap

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    folder = Path(tempfile.gettempdir()) / "jiuzhu-jieba"
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.tmp_dir = str(folder)
    tokenizer.initialize()
    for word in _vocabulary()["words"]:
        tokenizer.add_word(word)
    return tokenizer


def _is_noise(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZC" for ch in token)


def terms(text: str) -> list[str]:
    """The search terms of a text: jieba search mode, without punctuation, blanks and single-character
    stop words; Latin letters in lower case."""
    out = []
    for raw in _tokenizer().lcut_for_search(text or ""):
        token = raw.strip().lower()
        if not token or _is_noise(token) or len(token) > MAX_TERM:
            continue
        if len(token) == 1 and token in STOP_CHARS:
            continue
        out.append(token)
    return out


def expand_phrases(text: str) -> set[str]:
    """The text and every synonym of a phrase it contains (the catalogue's text filter uses this)."""
    found = {text}
    for group in _vocabulary()["groups"]:
        if any(p in text for p in group):
            found.update(group)
    return found


def query_terms(query: str) -> dict[str, float]:
    """Term → weight of a query: its own terms 1.0, terms only a synonym brought in ``SYNONYM_WEIGHT``."""
    weights = {t: 1.0 for t in terms(query)}
    for phrase in expand_phrases(query) - {query}:
        for t in terms(phrase):
            weights.setdefault(t, SYNONYM_WEIGHT)
    return weights


def _index(session: Session, doc: PolicyDocument) -> None:
    session.execute(delete(PolicyTerm).where(PolicyTerm.document_id == doc.id))
    title = terms(doc.title)
    counts = Counter(title) + Counter(terms(doc.body))
    in_title = set(title)
    session.add_all(PolicyTerm(document_id=doc.id, term=t, count=n, in_title=t in in_title,
                               updated_at=doc.updated_at) for t, n in sorted(counts.items()))


# --- documents ------------------------------------------------------------------------------------------

def _text(value, field: str, limit: int) -> str:
    text = str(value or "").strip()
    if not text:
        raise KnowledgeError("FIELD_MISSING", f"请填写{field}")
    if len(text) > limit:
        raise KnowledgeError("FIELD_TOO_LONG", f"{field}不得超过{limit}个字符")
    return text


def _fields(session: Session, *, doc_no, title, issuer, issued_on, body, aid_item_code, today: date) -> dict:
    issued = issued_on.isoformat() if isinstance(issued_on, date) else str(issued_on or "").strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", issued):
            raise ValueError(issued)
        issued_date = date.fromisoformat(issued)
    except ValueError:
        raise KnowledgeError("DATE_INVALID", f"发文日期须为YYYY-MM-DD格式的日期:{issued or '(空)'}") from None
    if issued_date > today:
        raise KnowledgeError("DATE_INVALID", f"发文日期{issued}晚于今天")
    code = str(aid_item_code or "").strip() or None
    if code and session.scalar(select(AidItem.id).where(AidItem.item_code == code).limit(1)) is None:
        raise KnowledgeError("ITEM_UNKNOWN", f"救助事项库中没有事项{code}")
    return {"doc_no": _text(doc_no, "文号", 64), "title": _text(title, "标题", 256),
            "issuer": _text(issuer, "发文机关", 128), "issued_on": issued, "body": _text(body, "正文", 200_000),
            "aid_item_code": code}


def owner_region(session: Session, doc: PolicyDocument) -> str:
    """The jurisdiction a document belongs to: its creator's (the seed's: the province)."""
    if doc.created_by.startswith("system:"):
        return regions.PROVINCE_CODE
    owner = session.scalar(select(User.jurisdiction_code).where(User.username == doc.created_by))
    return owner or regions.PROVINCE_CODE


def get_document(session: Session, document_id: int) -> PolicyDocument:
    doc = session.get(PolicyDocument, document_id)
    if doc is None:
        raise KnowledgeError("DOCUMENT_UNKNOWN", f"没有编号为{document_id}的政策文件")
    return doc


def _authorize(session: Session, user: access.Principal, action: str, region_code: str, purpose: str,
               clock: audit.Clock, **detail) -> None:
    access.authorize_and_audit(session, user, action, region_code, purpose=purpose, detail=detail,
                               clock=clock)


def add_document(session: Session, user: access.Principal, *, doc_no: str, title: str, issuer: str,
                 issued_on: str | date, body: str, aid_item_code: str | None = None,
                 clock: audit.Clock = audit.utc_now) -> PolicyDocument:
    """A new draft document in the user's jurisdiction (edit_catalogue), indexed at once."""
    fields = _fields(session, doc_no=doc_no, title=title, issuer=issuer, issued_on=issued_on, body=body,
                     aid_item_code=aid_item_code, today=clock().astimezone(BEIJING).date())
    if session.scalar(select(PolicyDocument.id).where(PolicyDocument.doc_no == fields["doc_no"])) is not None:
        raise KnowledgeError("DOC_NO_EXISTS", f"文号“{fields['doc_no']}”的文件已在知识库中")
    _authorize(session, user, "edit_catalogue", user.jurisdiction_code, "编辑政策文件", clock, step="add_document")
    now = clock()
    doc = PolicyDocument(**fields, status="draft", created_by=user.username, created_at=now, updated_at=now)
    session.add(doc)
    try:
        session.flush()
        _index(session, doc)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise KnowledgeError("DOC_NO_EXISTS", f"文号“{fields['doc_no']}”的文件已在知识库中") from None
    return doc


def edit_document(session: Session, user: access.Principal, document_id: int, *, doc_no: str, title: str,
                  issuer: str, issued_on: str | date, body: str, aid_item_code: str | None = None,
                  clock: audit.Clock = audit.utc_now) -> PolicyDocument:
    """Change a document and re-index it; a published document goes back to draft until published again."""
    doc = get_document(session, document_id)
    fields = _fields(session, doc_no=doc_no, title=title, issuer=issuer, issued_on=issued_on, body=body,
                     aid_item_code=aid_item_code, today=clock().astimezone(BEIJING).date())
    clash = session.scalar(select(PolicyDocument.id).where(PolicyDocument.doc_no == fields["doc_no"],
                                                           PolicyDocument.id != doc.id))
    if clash is not None:
        raise KnowledgeError("DOC_NO_EXISTS", f"文号“{fields['doc_no']}”的文件已在知识库中")
    _authorize(session, user, "edit_catalogue", owner_region(session, doc), "编辑政策文件", clock,
               step="edit_document", document_id=doc.id)
    doc = get_document(session, document_id)
    for name, value in fields.items():
        setattr(doc, name, value)
    if doc.status == "published":
        doc.status = "draft"
    doc.updated_at = clock()
    _index(session, doc)
    session.commit()
    return doc


def _transition(session: Session, user: access.Principal, document_id: int, *, allowed: tuple[str, ...],
                target: str, step: str, purpose: str, clock: audit.Clock) -> PolicyDocument:
    doc = get_document(session, document_id)
    if doc.status not in allowed:
        raise KnowledgeError("STATUS_INVALID", f"该文件{STATUS_ZH[doc.status]},不能{purpose[:2]}")
    _authorize(session, user, "publish_catalogue", owner_region(session, doc), purpose, clock, step=step,
               document_id=doc.id)
    doc = get_document(session, document_id)
    if doc.status not in allowed:
        raise KnowledgeError("STATUS_INVALID", f"该文件已{STATUS_ZH[doc.status]}")
    doc.status, doc.updated_at = target, clock()
    session.commit()
    return doc


def publish_document(session: Session, user: access.Principal, document_id: int, *,
                     clock: audit.Clock = audit.utc_now) -> PolicyDocument:
    return _transition(session, user, document_id, allowed=("draft", "withdrawn"), target="published",
                       step="publish_document", purpose="发布政策文件", clock=clock)


def withdraw_document(session: Session, user: access.Principal, document_id: int, *,
                      clock: audit.Clock = audit.utc_now) -> PolicyDocument:
    return _transition(session, user, document_id, allowed=("published",), target="withdrawn",
                       step="withdraw_document", purpose="撤回政策文件", clock=clock)


# --- images and attachments -----------------------------------------------------------------------------

def _zip_has(content: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and member in names


def _decode_image(content: bytes, media_type: str, label: str) -> None:
    try:
        from PIL import Image  # optional: without Pillow the magic bytes decide
    except ImportError:
        return
    expected = {"image/png": "PNG", "image/jpeg": "JPEG"}[media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                found = image.format
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise KnowledgeError("IMAGE_TOO_LARGE", "图片像素过多,请缩小后再上传") from None
    except (OSError, SyntaxError, ValueError):
        raise KnowledgeError("IMAGE_INVALID", f"文件无法解码为{label},可能已损坏") from None
    if found != expected:
        raise KnowledgeError("CONTENT_MISMATCH", f"文件内容不是{label}")


def check_file(filename: str, media_type: str, content: bytes) -> tuple[str, str, str]:
    """(kind, clean file name, media type) of an upload, or ``KnowledgeError`` saying what is wrong."""
    name = PurePosixPath(str(filename or "").replace("\\", "/")).name.strip()
    if not name or name in (".", ".."):
        raise KnowledgeError("FILE_NAME_MISSING", "文件须有文件名")
    if len(name) > 256:
        raise KnowledgeError("FILE_NAME_TOO_LONG", "文件名不得超过256个字符")
    suffix = PurePosixPath(name).suffix.lower()
    media = _ALIASES.get((media_type or "").strip().lower(), (media_type or "").strip().lower())
    if media in ("", "application/octet-stream"):
        media = next((m for m, (_, exts, _) in FILE_TYPES.items() if suffix in exts), media)
    if media not in FILE_TYPES:
        raise KnowledgeError("FILE_TYPE_UNSUPPORTED", f"不支持的文件类型({media or '未知'}):{_TYPES_ZH}")
    kind, extensions, label = FILE_TYPES[media]
    if suffix not in extensions:
        raise KnowledgeError("FILE_EXTENSION_MISMATCH", f"{label}的文件名须以{'或'.join(extensions)}结尾")
    if not content:
        raise KnowledgeError("FILE_EMPTY", "文件为空")
    if len(content) > MAX_BYTES:
        raise KnowledgeError("FILE_TOO_LARGE", f"文件大小{len(content) / 1024 / 1024:.1f} MB,超过10 MB上限")
    ok = {
        "image/png": content.startswith(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg": content.startswith(b"\xff\xd8\xff"),
        "application/pdf": content.startswith(b"%PDF-"),
        DOCX: content.startswith(b"PK\x03\x04") and _zip_has(content, "word/document.xml"),
        XLSX: content.startswith(b"PK\x03\x04") and _zip_has(content, "xl/workbook.xml"),
        "text/plain": b"\x00" not in content,
    }[media]
    if media == "text/plain" and ok:
        try:
            content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise KnowledgeError("TEXT_ENCODING", "文本附件须为UTF-8编码") from None
    if not ok:
        raise KnowledgeError("CONTENT_MISMATCH", f"文件内容不是{label}(文件头不符),请上传真实的{label}")
    if kind == "image":
        _decode_image(content, media, label)
    return kind, name, media


def attach(session: Session, user: access.Principal, document_id: int, filename: str, media_type: str,
           content: bytes, clock: audit.Clock = audit.utc_now) -> PolicyAttachment:
    """Add an image or attachment to a document (edit_catalogue in the document's jurisdiction)."""
    doc = get_document(session, document_id)
    kind, name, media = check_file(filename, media_type, content)
    _authorize(session, user, "edit_catalogue", owner_region(session, doc), "上传政策文件附件", clock,
               step="attach", document_id=doc.id, kind=kind, size=len(content))
    now = clock()
    row = PolicyAttachment(document_id=doc.id, kind=kind, filename=name, media_type=media, size=len(content),
                           sm3=sm3(content), content=content, updated_at=now)
    session.add(row)
    get_document(session, document_id).updated_at = now
    session.commit()
    return row


def attachments(session: Session, document_id: int) -> list[PolicyAttachment]:
    return list(session.scalars(select(PolicyAttachment).where(PolicyAttachment.document_id == document_id)
                                .order_by(PolicyAttachment.kind.desc(), PolicyAttachment.id)))


# --- search ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    document_id: int
    doc_no: str
    title: str
    issuer: str
    issued_on: str
    status: str
    score: float
    terms: tuple[str, ...]  # the query's terms found in the document, longest first
    snippet: str


def _snippet(body: str, found: tuple[str, ...], width: int = 90) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    lowered = text.lower()
    places = [lowered.find(t) for t in found if lowered.find(t) >= 0]
    if not places:
        return text[:width] + ("…" if len(text) > width else "")
    start = max(0, min(places) - width // 3)
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def highlight_spans(text: str, found: tuple[str, ...] | list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is a found term) for display, longest terms winning."""
    needles = sorted({t for t in found if t}, key=len, reverse=True)
    if not needles or not text:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(t) for t in needles), re.IGNORECASE)
    spans, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            spans.append((text[pos:m.start()], False))
        if spans and spans[-1][1] and m.start() == pos:  # adjacent terms: one highlighted run
            spans[-1] = (spans[-1][0] + m.group(0), True)
        else:
            spans.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        spans.append((text[pos:], False))
    return spans


def search(session: Session, query: str, *, limit: int = 20, include_drafts: bool = False) -> list[Hit]:
    """Documents ranked by BM25 over the query's terms (with synonyms); published only unless
    ``include_drafts`` (editors); withdrawn documents never."""
    weights = query_terms(query or "")
    if not weights:
        return []
    statuses = ("published", "draft") if include_drafts else ("published",)
    visible = select(PolicyDocument.id).where(PolicyDocument.status.in_(statuses))
    lengths = dict(session.execute(select(PolicyTerm.document_id, func.sum(PolicyTerm.count))
                                   .where(PolicyTerm.document_id.in_(visible))
                                   .group_by(PolicyTerm.document_id)).all())
    if not lengths:
        return []
    n_docs = len(lengths)
    average = sum(int(v) for v in lengths.values()) / n_docs
    postings = session.execute(
        select(PolicyTerm.document_id, PolicyTerm.term, PolicyTerm.count, PolicyTerm.in_title)
        .where(PolicyTerm.term.in_(list(weights)), PolicyTerm.document_id.in_(visible))).all()
    df = Counter(p.term for p in postings)
    scores: dict[int, float] = {}
    found: dict[int, set[str]] = {}
    for p in postings:
        tf = p.count + (TITLE_WEIGHT if p.in_title else 0.0)
        idf = math.log(1 + (n_docs - df[p.term] + 0.5) / (df[p.term] + 0.5))
        norm = BM25_K1 * (1 - BM25_B + BM25_B * int(lengths[p.document_id]) / average)
        gain = weights[p.term] * idf * tf * (BM25_K1 + 1) / (tf + norm)
        scores[p.document_id] = scores.get(p.document_id, 0.0) + gain
        found.setdefault(p.document_id, set()).add(p.term)
    docs = {d.id: d for d in session.scalars(select(PolicyDocument)
                                             .where(PolicyDocument.id.in_(list(scores))))}
    ranked = sorted(scores, key=lambda i: (-scores[i], docs[i].issued_on, i))[: max(1, limit)]
    hits = []
    for i in ranked:
        d = docs[i]
        words = tuple(sorted(found[i], key=lambda t: (-len(t), t)))
        hits.append(Hit(d.id, d.doc_no, d.title, d.issuer, d.issued_on, d.status, round(scores[i], 4), words,
                        _snippet(d.body, words)))
    return hits


def reindex(session: Session, *, clock: audit.Clock = audit.utc_now) -> int:
    """Segment every document again (after the vocabulary's ``words`` changed); returns how many."""
    docs = list(session.scalars(select(PolicyDocument).order_by(PolicyDocument.id)))
    for doc in docs:
        _index(session, doc)
    audit.append(session, actor="system:knowledge", action="knowledge_reindex", outcome="success",
                 detail={"documents": len(docs)}, clock=clock)
    session.commit()
    return len(docs)


# --- seed -----------------------------------------------------------------------------------------------

def seed_documents(session: Session, clock: audit.Clock = audit.utc_now, *, path: Path = SEED) -> int:
    """Load the summaries of the national policy documents (published, by ``system:seed``) that are
    not in the knowledge base yet; returns how many."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    existing = set(session.scalars(select(PolicyDocument.doc_no)))
    known_items = set(session.scalars(select(AidItem.item_code)))
    now = clock()
    added = 0
    for raw in doc["documents"]:
        if raw["doc_no"] in existing:
            continue
        item = raw.get("aid_item_code")
        row = PolicyDocument(doc_no=raw["doc_no"], title=raw["title"], issuer=raw["issuer"],
                             issued_on=str(raw["issued_on"]), body=raw["body"].strip(),
                             aid_item_code=item if item in known_items else None, status="published",
                             created_by="system:seed", created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        _index(session, row)
        added += 1
    if added:
        audit.append(session, actor="system:seed", action="knowledge_seed", outcome="success",
                     detail={"documents": added}, clock=clock)
    session.commit()
    return added
