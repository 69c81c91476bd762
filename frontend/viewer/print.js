// Print from the viewer on a DICOM printer or film camera: choose the printer, layout, film
// size, annotations and which images (the image shown, every viewport, the report's key
// images). The portal prints in the background; the dialog follows the job until it ends.
import { utilities as csUtils } from '@cornerstonejs/core';
import './print.css';

const POLL_MS = 1000;
const FINAL = new Set(['done', 'failed']);

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function option(value, label, selected = false) {
  return element('option', { value, textContent: label, selected });
}

/** Layout that fits `count` images on one film, from the layouts the portal offers. */
function layoutFor(count, layouts) {
  const boxes = (value) => value.split('\\')[1].split(',').reduce((a, b) => a * Number(b), 1);
  const fitting = layouts.filter((l) => boxes(l.value) >= count).sort((a, b) => boxes(a.value) - boxes(b.value));
  return (fitting[0] || layouts[layouts.length - 1]).value;
}

async function request(url, csrfToken, body) {
  const response = await fetch(url, {
    method: body ? 'POST' : 'GET',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.detail || Object.entries(data).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ');
    throw new Error(detail || `The portal answered ${response.status}.`);
  }
  return data;
}

/**
 * Adds the Print button to the toolbar. `shownImages()` returns what each viewport shows:
 * [{ sop_instance_uid, frame, window_center, window_width }], the active viewport first.
 */
export function installPrint({ root, config, shownImages }) {
  const settings = config.print;
  const toolbar = root.querySelector('[data-toolbar]');
  if (!settings || !toolbar) return;
  const button = element('button', { type: 'button', textContent: 'Print', title: 'Print on a DICOM printer or film camera' });
  button.dataset.printOpen = '';
  const help = toolbar.querySelector('[data-action="help"]');
  (help?.parentElement || toolbar).insertBefore(button, help);
  let dialog = null;
  button.addEventListener('click', () => (dialog ? close() : open()));

  function close() {
    dialog?.remove();
    dialog = null;
  }

  async function open() {
    const form = element('form', { className: 'viewer-print' });
    form.dataset.printDialog = '';
    form.setAttribute('role', 'dialog');
    form.setAttribute('aria-label', 'Print');
    dialog = form;
    const status = element('p', { className: 'viewer-print-status', textContent: 'Loading the printers…' });
    status.dataset.printStatus = '';
    status.setAttribute('aria-live', 'polite');
    form.append(element('h2', { textContent: 'Print' }), status);
    root.append(form);
    let printers;
    try {
      printers = (await request(settings.destinations, config.csrf_token)).results ?? [];
    } catch (error) {
      Object.assign(status, { textContent: error.message });
      status.dataset.state = 'error';
      return;
    }
    if (dialog !== form) return;
    if (!printers.length) {
      status.textContent = 'No printer is set up yet: an administrator adds printers on the Printers page.';
      form.append(element('div', { className: 'viewer-print-buttons' }, [cancelButton()]));
      return;
    }
    status.textContent = '';
    build(form, printers, status);
  }

  function cancelButton() {
    const cancel = element('button', { type: 'button', className: 'quiet', textContent: 'Close' });
    cancel.addEventListener('click', close);
    return cancel;
  }

  function build(form, printers, status) {
    const shown = shownImages();
    const printer = element('select', { name: 'destination' }, printers.map((p) => option(p.id, p.name)));
    const which = element('fieldset', {}, [element('legend', { textContent: 'Images' })]);
    const choices = [
      ['current', 'The image shown', shown.length > 0],
      ['viewports', `The ${shown.length} viewports shown`, shown.length > 1],
      ['key_images', "The report's key images", true],
    ];
    for (const [value, label, enabled] of choices) {
      if (!enabled) continue;
      const input = element('input', { type: 'radio', name: 'images', value, checked: value === 'current' || (value === 'key_images' && !shown.length) });
      which.append(element('label', {}, [input, label]));
    }
    const layout = element('select', { name: 'layout' }, settings.layouts.map((l) => option(l.value, l.label)));
    const filmSize = element('select', { name: 'film_size' });
    const orientation = element('select', { name: 'orientation' }, [option('PORTRAIT', 'Portrait'), option('LANDSCAPE', 'Landscape')]);
    const copies = element('input', { type: 'number', name: 'copies', min: '1', max: '99', value: '1', inputMode: 'numeric' });
    const annotations = element('input', { type: 'checkbox', name: 'annotations', checked: true });
    const print = element('button', { type: 'submit', textContent: 'Print' });
    print.dataset.printSubmit = '';

    function fitPrinter() {
      const chosen = printers.find((p) => String(p.id) === printer.value) || printers[0];
      const sizes = chosen.film_sizes?.length ? chosen.film_sizes : [chosen.default_film_size];
      filmSize.replaceChildren(...sizes.map((s) => option(s, s, s === chosen.default_film_size)));
      orientation.value = chosen.orientation;
    }
    const chosenImages = () => which.querySelector('input:checked')?.value || 'current';
    function fitLayout() {
      const count = chosenImages() === 'viewports' ? shown.length : 1;
      layout.value = layoutFor(count, settings.layouts);
    }
    printer.addEventListener('change', fitPrinter);
    which.addEventListener('change', fitLayout);
    fitPrinter();
    fitLayout();

    form.replaceChildren(
      element('h2', { textContent: 'Print' }),
      element('label', {}, ['Printer', printer]),
      which,
      element('div', { className: 'viewer-print-row' }, [
        element('label', {}, ['Layout', layout]),
        element('label', {}, ['Film size', filmSize]),
        element('label', {}, ['Orientation', orientation]),
        element('label', {}, ['Copies', copies]),
      ]),
      element('fieldset', {}, [element('label', {}, [annotations, 'Annotations burned in'])]),
      status,
      element('div', { className: 'viewer-print-buttons' }, [cancelButton(), print]),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const images = chosenImages();
      const body = {
        study: settings.study,
        destination: Number(printer.value),
        layout: layout.value,
        film_size: filmSize.value,
        orientation: orientation.value,
        copies: Number(copies.value) || 1,
        annotations: annotations.checked,
        key_images: images === 'key_images',
        images: images === 'key_images' ? [] : images === 'viewports' ? shown : shown.slice(0, 1),
      };
      print.disabled = true;
      say(status, 'Sending to the printer…', 'queued');
      try {
        const job = await request(settings.jobs, config.csrf_token, body);
        follow(job, status, print);
      } catch (error) {
        say(status, error.message, 'error');
        print.disabled = false;
      }
    });
  }

  function say(status, text, state, link = false) {
    status.replaceChildren(text);
    status.dataset.state = state;
    if (link) status.append(' ', element('a', { href: settings.prints_page, textContent: 'All prints' }));
  }

  async function follow(job, status, print) {
    const words = {
      queued: 'Queued for the printer…',
      printing: 'Printing…',
      done: `Printed (${job.films} film${job.films === 1 ? '' : 's'}${job.printer_status ? `; printer ${job.printer_status}` : ''}).`,
      failed: `Not printed: ${job.error}`,
    };
    say(status, words[job.state] || job.state_label, job.state, FINAL.has(job.state));
    if (FINAL.has(job.state)) {
      print.disabled = false;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!status.isConnected) return; // the dialog was closed; the prints page still shows it
    try {
      follow(await request(`${settings.jobs}${job.id}/`, config.csrf_token), status, print);
    } catch (error) {
      say(status, error.message, 'error', true);
      print.disabled = false;
    }
  }
}

/** What a Cornerstone viewport shows, as the print API takes it. */
export function printedImage(viewport, info) {
  if (!info) return null;
  const image = { sop_instance_uid: info.sopInstanceUid, frame: info.frame || 1 };
  const { voiRange } = viewport.getProperties?.() || {};
  if (voiRange && Number.isFinite(voiRange.lower) && Number.isFinite(voiRange.upper)) {
    const { windowWidth, windowCenter } = csUtils.windowLevel.toWindowLevel(voiRange.lower, voiRange.upper);
    Object.assign(image, { window_center: windowCenter, window_width: windowWidth });
  }
  return image;
}
