"""Classes in the store: a teacher opens one, learners join with its code, their runs meet on its wall.

    classes = Classes(store)
    info, teacher_key = classes.create("5th period", learner_key)      # info.code: "K7M2QX"
    classes.join(student_key, "K7M2QX", "Aiko")                         # her new runs now count there
    classes.wall("K7M2QX")                                               # everyone's counted runs
    classes.reveal("K7M2QX", Teacher(teacher_key=teacher_key), score)   # each run's test accuracy, once

A class code is 6 characters a room can read aloud (no 0/O, 1/I). The teacher link's key is
random (192 bits); the browser that created the class is a teacher too. Teacher operations
without either raise ClassError("not_teacher"). A nickname is plain text, 1–24 characters, no
control characters, unique in its class. A run counts on its class's wall when it started while
its learner was in the class and the class was open; closing the contest stops new runs counting.
"""
import json
import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.checkpoint import read_checkpoint
from core.i18n import LessonError
from core.store import schema as S
from core.store.runs import ACTIVE, Store, _hash, _nan, now, valid_learner_key
from core.train import TrainConfig

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NAME_MAX = 80
NICKNAME_MAX = 24
WALL_STATUSES = ("finished", "stopped", "early_stopped")  # runs that ended with a model worth ranking


class ClassError(LessonError):
    """A class request that cannot be done, with a sentence the learner or teacher understands."""


@dataclass(frozen=True)
class Teacher:
    """Who asks for a teacher operation: the teacher link's key, and/or the asking browser's learner key."""
    teacher_key: str | None = None
    learner_key: str | None = None


@dataclass(frozen=True)
class ClassInfo:
    id: int
    code: str
    name: str
    is_open: bool
    show_names: bool
    projector: bool
    revealed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    klass: ClassInfo
    member_id: int
    nickname: str


@dataclass(frozen=True)
class WallRun:
    """One counted run as the wall shows it."""
    run_id: int
    member_id: int
    nickname: str
    number: int  # the student's "Run 3"
    config: TrainConfig
    status: str
    epoch: int  # the epoch whose weights it keeps (early stopping: the best)
    val_acc: float
    val_losses: list[float]  # per epoch
    test_acc: float | None  # after the reveal
    hidden: bool  # removed from the wall by the teacher
    ended_at: datetime


@dataclass(frozen=True)
class Wall:
    klass: ClassInfo
    students: int  # in the class now
    training: int  # counted runs queued or training now
    runs: list[WallRun]  # ended runs, hidden ones too (the page leaves them out but the teacher may restore them)


def new_class_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(code: str) -> str:
    """What a student typed, as a code: upper case, no spaces or dashes ("k7m 2qx" → "K7M2QX")."""
    return "".join(ch for ch in str(code or "").upper() if ch not in " -\t")


def check_nickname(text: str) -> str:
    """The nickname, trimmed; ClassError for an empty, over-long one or one with control characters."""
    name = str(text or "").strip()
    if not name:
        raise ClassError("nickname_empty")
    if len(name) > NICKNAME_MAX:
        raise ClassError("nickname_too_long", limit=NICKNAME_MAX, length=len(name))
    if any(unicodedata.category(ch).startswith("C") for ch in name):  # control, format, unassigned…
        raise ClassError("nickname_control")
    return name


def _info(row: S.Classroom) -> ClassInfo:
    return ClassInfo(row.id, row.code, row.name, row.is_open, row.show_names, row.projector, row.revealed_at,
                     row.created_at)


class Classes:
    def __init__(self, store: Store):
        self.store = store

    def _unit(self):
        return self.store.session.begin()

    # teacher -------------------------------------------------------------------------------------

    def create(self, name: str, learner_key: str) -> tuple[ClassInfo, str]:
        """Open a class named `name`: (its info, the teacher key for the teacher link). The creating
        learner (this browser) holds the teacher controls too."""
        name = str(name or "").strip()
        if not name:
            raise ClassError("class_name_empty")
        if len(name) > NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in name):
            raise ClassError("class_name_bad", limit=NAME_MAX)
        teacher_key = secrets.token_urlsafe(24)
        creator = self.store.learner_id(learner_key, create=True) if valid_learner_key(learner_key) else None
        for _ in range(20):  # 32^6 ≈ 10^9 codes: a clash is rare, and retried
            try:
                with self._unit() as db:
                    row = S.Classroom(code=new_class_code(), name=name, teacher_key_hash=_hash(teacher_key),
                                      created_by=creator, created_at=now(), is_open=True, show_names=True,
                                      projector=False)
                    db.add(row)
                    db.flush()
                    return _info(row), teacher_key
            except IntegrityError:
                continue
        raise RuntimeError("no free class code after 20 tries")

    def _class(self, db, code: str) -> S.Classroom | None:
        return db.scalar(select(S.Classroom).where(S.Classroom.code == normal_code(code)))

    def _teacher_class(self, db, code: str, who: Teacher) -> S.Classroom:
        row = self._class(db, code)
        if row is None or not self._is_teacher(db, row, who):
            raise ClassError("not_teacher")
        return row

    def _is_teacher(self, db, row: S.Classroom, who: Teacher) -> bool:
        if who.teacher_key and secrets.compare_digest(_hash(who.teacher_key), row.teacher_key_hash):
            return True
        if row.created_by is not None and valid_learner_key(who.learner_key):
            return db.scalar(select(S.Learner.id).where(S.Learner.key_hash == _hash(who.learner_key))) \
                == row.created_by
        return False

    def is_teacher(self, code: str, who: Teacher) -> bool:
        with self._unit() as db:
            row = self._class(db, code)
            return row is not None and self._is_teacher(db, row, who)

    def taught_by(self, learner_key: str) -> list[ClassInfo]:
        """The classes this browser created, newest first (its teacher controls survive a reload)."""
        if not valid_learner_key(learner_key):
            return []
        with self._unit() as db:
            rows = db.scalars(select(S.Classroom).join(S.Learner, S.Learner.id == S.Classroom.created_by)
                              .where(S.Learner.key_hash == _hash(learner_key))
                              .order_by(S.Classroom.created_at.desc(), S.Classroom.id.desc()))
            return [_info(r) for r in rows]

    def set_open(self, code: str, who: Teacher, is_open: bool) -> None:
        """Open or close the contest: while closed, new runs are still saved for their learners but not counted."""
        with self._unit() as db:
            self._teacher_class(db, code, who).is_open = is_open

    def set_display(self, code: str, who: Teacher, show_names: bool | None = None,
                    projector: bool | None = None) -> None:
        with self._unit() as db:
            row = self._teacher_class(db, code, who)
            if show_names is not None:
                row.show_names = show_names
            if projector is not None:
                row.projector = projector

    def hide_run(self, code: str, who: Teacher, run_id: int, hidden: bool = True) -> None:
        """Take a run off the wall (or put it back); the learner keeps it."""
        with self._unit() as db:
            row = self._teacher_class(db, code, who)
            members = select(S.Member.id).where(S.Member.class_id == row.id)
            db.execute(update(S.Run).where(S.Run.id == run_id, S.Run.member_id.in_(members))
                       .values(wall_hidden=hidden))

    def reveal(self, code: str, who: Teacher, score: Callable) -> int:
        """Score each counted run's model on the test set, once: `score(model)` gives its accuracy. The
        contest closes. A second reveal changes nothing. Returns how many runs were scored now."""
        with self._unit() as db:
            row = self._teacher_class(db, code, who)
            if row.revealed_at is not None:
                return 0
            counted = db.execute(
                select(S.Run.id, S.Weights.model).join(S.Weights, S.Weights.run_id == S.Run.id)
                .join(S.Member, S.Member.id == S.Run.member_id)
                .where(S.Member.class_id == row.id, S.Run.status.in_(WALL_STATUSES), S.Run.wall_hidden.is_(False),
                       S.Run.test_acc.is_(None))).all()
            for run_id, blob in counted:
                model, _ = read_checkpoint(blob, f"run {run_id}")
                db.execute(update(S.Run).where(S.Run.id == run_id).values(test_acc=float(score(model))))
            row.revealed_at, row.is_open = now(), False
            return len(counted)

    # student -------------------------------------------------------------------------------------

    def find(self, code: str) -> ClassInfo | None:
        with self._unit() as db:
            row = self._class(db, code)
            return _info(row) if row else None

    def join(self, learner_key: str, code: str, nickname: str) -> Membership:
        """Join the class `code` as `nickname` (leaving any other class). ClassError: unknown code,
        closed class, a bad nickname or one taken in that class."""
        if not normal_code(code):
            raise ClassError("class_code_empty")
        nickname = check_nickname(nickname)
        if not valid_learner_key(learner_key):
            raise ValueError("not a learner key")
        learner = self.store.learner_id(learner_key, create=True)
        with self._unit() as db:
            row = self._class(db, code)
            if row is None:
                raise ClassError("class_unknown", code=normal_code(code))
            if not row.is_open:
                raise ClassError("class_closed", name=row.name)
            taken = db.scalar(select(S.Member).where(S.Member.class_id == row.id, S.Member.nickname == nickname))
            if taken is not None and taken.learner_id != learner:
                raise ClassError("nickname_taken", nickname=nickname)
            db.execute(update(S.Member).where(S.Member.learner_id == learner, S.Member.left_at.is_(None))
                       .values(left_at=now()))
            if taken is not None:  # back in the class under the name they had
                taken.left_at = None
                member = taken
            else:
                member = S.Member(class_id=row.id, learner_id=learner, nickname=nickname, joined_at=now())
                db.add(member)
            try:
                db.flush()
            except IntegrityError:  # someone took the nickname a moment ago
                raise ClassError("nickname_taken", nickname=nickname) from None
            return Membership(_info(row), member.id, nickname)

    def leave(self, learner_key: str) -> None:
        if not valid_learner_key(learner_key):
            return
        with self._unit() as db:
            learner = select(S.Learner.id).where(S.Learner.key_hash == _hash(learner_key))
            db.execute(update(S.Member).where(S.Member.learner_id.in_(learner), S.Member.left_at.is_(None))
                       .values(left_at=now()))

    def membership(self, learner_key: str) -> Membership | None:
        """The class this learner is in now, if any."""
        if not valid_learner_key(learner_key):
            return None
        with self._unit() as db:
            found = db.execute(select(S.Member, S.Classroom).join(S.Classroom, S.Classroom.id == S.Member.class_id)
                               .join(S.Learner, S.Learner.id == S.Member.learner_id)
                               .where(S.Learner.key_hash == _hash(learner_key), S.Member.left_at.is_(None))).first()
            return Membership(_info(found[1]), found[0].id, found[0].nickname) if found else None

    # the wall ------------------------------------------------------------------------------------

    def wall(self, code: str) -> Wall | None:
        """Everything the class's wall shows, read in one transaction (the page caches it for all viewers)."""
        with self._unit() as db:
            row = self._class(db, code)
            if row is None:
                return None
            students = db.scalar(select(func.count()).select_from(S.Member)
                                 .where(S.Member.class_id == row.id, S.Member.left_at.is_(None)))
            runs = db.execute(select(S.Run, S.Member.nickname).join(S.Member, S.Member.id == S.Run.member_id)
                              .where(S.Member.class_id == row.id)).all()
            ended = [(r, nick) for r, nick in runs if r.status in WALL_STATUSES]
            training = sum(r.status in ACTIVE for r, _ in runs)
            epochs: dict[int, list] = {r.id: [] for r, _ in ended}
            if epochs:
                for run_id, val_loss, val_acc in db.execute(
                        select(S.EpochRow.run_id, S.EpochRow.val_loss, S.EpochRow.val_acc)
                        .where(S.EpochRow.run_id.in_(list(epochs))).order_by(S.EpochRow.run_id, S.EpochRow.epoch)):
                    epochs[run_id].append((_nan(val_loss), _nan(val_acc)))
            shown = []
            for r, nick in ended:
                per_epoch = epochs[r.id]
                if not per_epoch:
                    continue  # stopped before its first epoch ended: nothing to rank
                kept = r.best_epoch if r.status == "early_stopped" and r.best_epoch else len(per_epoch)
                shown.append(WallRun(r.id, r.member_id, nick, r.number, TrainConfig.from_dict(json.loads(r.config)),
                                     r.status, kept, per_epoch[kept - 1][1], [loss for loss, _ in per_epoch],
                                     r.test_acc, r.wall_hidden, r.updated_at))
            return Wall(_info(row), students, training, shown)

    # admin ---------------------------------------------------------------------------------------

    def overview(self) -> list[dict]:
        """Every class: code, name, students now, counted runs, open or closed, revealed or not."""
        with self._unit() as db:
            classes = db.scalars(select(S.Classroom).order_by(S.Classroom.created_at)).all()
            students = dict(db.execute(select(S.Member.class_id, func.count()).where(S.Member.left_at.is_(None))
                                       .group_by(S.Member.class_id)).all())
            runs = dict(db.execute(select(S.Member.class_id, func.count(S.Run.id))
                                   .join(S.Run, S.Run.member_id == S.Member.id).group_by(S.Member.class_id)).all())
            return [{"code": c.code, "name": c.name, "students": students.get(c.id, 0), "runs": runs.get(c.id, 0),
                     "open": c.is_open, "revealed": c.revealed_at is not None, "created_at": c.created_at}
                    for c in classes]


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
