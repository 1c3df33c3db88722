"""Runs in the student's kernel: the state of IPython's hooks that could change what a cell runs
or what an error shows. The driver asks for it after the kernel starts and after the last cell;
a difference is flagged (``ipython_hooks``)."""


def state(shell):
    """Counts and identities of ``shell``'s (an InteractiveShell) transformers and handlers."""
    from IPython.core.interactiveshell import InteractiveShell
    return {"input_transformers_cleanup": len(shell.input_transformers_cleanup),
            "input_transformers_post": len(shell.input_transformers_post),
            "ast_transformers": len(shell.ast_transformers),
            "custom_exceptions": len(shell.custom_exceptions),
            "showtraceback": type(shell).showtraceback is InteractiveShell.showtraceback
                             and "showtraceback" not in vars(shell),
            "run_cell": "run_cell" not in vars(shell)}
