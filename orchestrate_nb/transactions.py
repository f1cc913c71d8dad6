"""Transactions, as in Prefect 3 (``from orchestrate_nb.transactions import transaction``).

    @task
    def write_file(path, text): ...

    @write_file.on_rollback
    def delete_file(txn):
        os.unlink(txn.get("path"))

    with transaction() as txn:
        txn.set("path", "out.txt")
        write_file("out.txt", "...")
        check_file("out.txt")        # raises: write_file's rollback hook runs

Task runs completed in the block commit when it ends (their ``on_commit`` hooks run and
their cache records are written) or roll back when it raises (their ``on_rollback`` hooks
run, last first; their state becomes ``RolledBack``; no cache record is written). See
``orchestrate_nb.engine.transactions`` for commit modes, keys and isolation levels.
"""

from orchestrate_nb.engine.transactions import (
    CommitMode,
    IsolationLevel,
    Transaction,
    TransactionState,
    atransaction,
    get_transaction,
    transaction,
)

__all__ = ["CommitMode", "IsolationLevel", "Transaction", "TransactionState", "atransaction",
           "get_transaction", "transaction"]
