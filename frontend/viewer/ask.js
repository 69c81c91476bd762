// A small form over the images that asks for one value (the text of an arrow or a label, the
// known length of a calibration line), in place of the browser's prompt(): it is part of the
// page, works with a touch keyboard, and does not block the page's script while open.

let open = null; // the form on screen, if any

/**
 * Asks `question`; resolves to the answer (a string; a number when `number`; true when
 * `confirm`, which asks no value), or null when cancelled. Only one form at a time: a new
 * question cancels the previous one.
 */
export function ask(root, question, { value = '', number = false, confirm = false, hint = '', ok: okLabel = 'OK' } = {}) {
  open?.cancel();
  return new Promise((resolve) => {
    const form = document.createElement('form');
    form.className = 'viewer-ask';
    form.dataset.ask = '';
    form.setAttribute('role', 'dialog');
    form.setAttribute('aria-label', question);
    const label = document.createElement('label');
    const caption = document.createElement('span');
    caption.textContent = question;
    const input = document.createElement('input');
    input.name = 'answer';
    input.value = value;
    input.autocomplete = 'off';
    if (number) {
      Object.assign(input, { type: 'number', min: '0', step: 'any', required: true, inputMode: 'decimal' });
    } else {
      input.type = 'text';
    }
    if (confirm) {
      form.append(caption);
    } else {
      label.append(caption, input);
      form.append(label);
    }
    if (hint) {
      const note = document.createElement('p');
      note.className = 'muted small';
      note.textContent = hint;
      form.append(note);
    }
    const buttons = document.createElement('div');
    buttons.className = 'viewer-ask-buttons';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'quiet';
    cancel.textContent = 'Cancel';
    cancel.dataset.askCancel = '';
    const ok = document.createElement('button');
    ok.type = 'submit';
    ok.textContent = okLabel;
    ok.dataset.askOk = '';
    buttons.append(cancel, ok);
    form.append(buttons);

    const finish = (answer) => {
      if (open?.form === form) open = null;
      form.remove();
      resolve(answer);
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (confirm) return finish(true);
      if (!number) return finish(input.value);
      const parsed = Number(String(input.value).replace(',', '.'));
      return finish(parsed > 0 ? parsed : null);
    });
    cancel.addEventListener('click', () => finish(null));
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        finish(null);
      }
    });
    open = { form, cancel: () => finish(null) };
    root.append(form);
    if (confirm) {
      ok.focus();
    } else {
      input.focus();
      input.select();
    }
  });
}
