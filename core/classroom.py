"""What a class wall shows, computed from the store's `Wall`: the leaderboard on validation accuracy
(模試, the mock exam sat many times), the final ranking on test accuracy after the reveal (本試, the
real exam sat once) and how many places each student moved between the two.

Plain functions of plain values: the page draws them, a script or the admin CLI can print them.
"""
from dataclasses import dataclass

from core.store.classes import Wall, WallRun, finite


@dataclass(frozen=True)
class Place:
    rank: int  # 1 = first
    nickname: str
    run: WallRun  # the student's run that ranks them


def counted(wall: Wall) -> list[WallRun]:
    """The runs on the wall: ended with a model, not removed by the teacher."""
    return [r for r in wall.runs if not r.hidden and finite(r.val_acc)]


def _order(run: WallRun) -> tuple:
    """Higher validation accuracy first; a tie goes to the run that ended earlier."""
    return (-run.val_acc, run.ended_at, run.run_id)


def leaderboard(wall: Wall) -> list[Place]:
    """Each student's best run by validation accuracy, best student first (ties: the earlier run)."""
    best: dict[int, WallRun] = {}
    for run in sorted(counted(wall), key=_order):
        best.setdefault(run.member_id, run)
    return [Place(rank, run.nickname, run) for rank, run in enumerate(sorted(best.values(), key=_order), 1)]


@dataclass(frozen=True)
class Final:
    nickname: str
    val_rank: int
    test_rank: int
    run: WallRun  # the run the student chose by validation accuracy, now scored on the test set

    @property
    def moved(self) -> int:
        """Places gained (+) or lost (−) from the validation ranking to the test ranking."""
        return self.val_rank - self.test_rank


def final_ranking(wall: Wall) -> list[Final]:
    """After the reveal: each student's validation-chosen run ranked by its test accuracy (ties: the
    better validation place), with its validation place beside it."""
    board = [p for p in leaderboard(wall) if finite(p.run.test_acc)]
    by_test = sorted(board, key=lambda p: (-p.run.test_acc, p.rank))
    return [Final(p.nickname, p.rank, test_rank, p.run) for test_rank, p in enumerate(by_test, 1)]


def csv_rows(wall: Wall) -> list[dict]:
    """One row per run on the wall (hidden ones marked), for the teacher's CSV."""
    places = {p.run.run_id: p.rank for p in leaderboard(wall)}
    finals = {f.run.run_id: f for f in final_ranking(wall)}
    rows = []
    for run in sorted(wall.runs, key=lambda r: (r.nickname, r.number)):
        c = run.config
        final = finals.get(run.run_id)
        rows.append({"nickname": run.nickname, "run": run.number, "status": run.status, "hidden": run.hidden,
                     "optimizer": c.optimizer, "learning_rate": c.learning_rate, "batch_size": c.batch_size,
                     "dropout": c.dropout, "model": c.model, "epochs": c.epochs, "kept_epoch": run.epoch,
                     "val_acc": run.val_acc, "test_acc": run.test_acc, "val_rank": places.get(run.run_id),
                     "test_rank": final.test_rank if final else None, "ended_at": run.ended_at.isoformat()})
    return rows
