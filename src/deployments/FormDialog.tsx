// A JupyterLab dialog around a form that stays open when its submission is refused: the
// accept button (or Enter) calls the form's `submit`, which answers the result, or
// `undefined` after showing the server's one line in the form. Only then does it close.
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

/** Submits the form: its result, or `undefined` to keep the dialog open. */
export type Submit<T> = () => Promise<T | undefined>;

export class FormBody<T> extends ReactWidget {
  constructor(private readonly renderForm: (register: (submit: Submit<T>) => void) => JSX.Element) {
    super();
    this.addClass('onb-d-dialog-body');
  }

  /** Runs the form's submission; true when it succeeded (the dialog may close). */
  async submit(): Promise<boolean> {
    if (!this._submit) {
      return false;
    }
    const result = await this._submit();
    if (result === undefined) {
      return false;
    }
    this._result = result;
    return true;
  }

  getValue(): T | undefined {
    return this._result;
  }

  protected render(): JSX.Element {
    return this.renderForm(this._register);
  }

  private _register = (submit: Submit<T>): void => {
    this._submit = submit;
  };

  private _result: T | undefined = undefined;
  private _submit: Submit<T> | null = null;
}

class FormDialog<T> extends Dialog<T | undefined> {
  constructor(
    options: Partial<Dialog.IOptions<T | undefined>> & { body: FormBody<T> },
    private readonly form: FormBody<T>,
    private readonly accepts: boolean[],
    private readonly defaultIndex: number
  ) {
    super(options);
  }

  resolve(index?: number): void {
    const which = index ?? this.defaultIndex;
    if (!this.accepts[which]) {
      super.resolve(which);
      return;
    }
    if (this._busy) {
      return;
    }
    this._busy = true;
    this.addClass('onb-mod-busy');
    void this.form
      .submit()
      .then(ok => {
        this._busy = false;
        this.removeClass('onb-mod-busy');
        if (ok) {
          super.resolve(which);
        }
      })
      .catch(() => {
        this._busy = false;
        this.removeClass('onb-mod-busy');
      });
  }

  private _busy = false;
}

/** Shows `body` with Cancel and `acceptLabel`; the submitted result, or null if cancelled. */
export async function showFormDialog<T>(options: {
  title: string;
  body: FormBody<T>;
  acceptLabel: string;
  className?: string;
}): Promise<T | null> {
  const buttons = [Dialog.cancelButton(), Dialog.okButton({ label: options.acceptLabel })];
  const dialog = new FormDialog<T>(
    { title: options.title, body: options.body, buttons, defaultButton: 1, hasClose: true },
    options.body,
    buttons.map(b => b.accept),
    1
  );
  dialog.addClass('onb-d-dialog');
  if (options.className) {
    dialog.addClass(options.className);
  }
  const answer = await dialog.launch();
  return answer.button.accept && answer.value !== undefined && answer.value !== null ? answer.value : null;
}
