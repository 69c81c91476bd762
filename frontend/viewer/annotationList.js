// The list of annotations beside the images: live values while drawing, the server's values
// once saved, author, calibration note, and (for the author) delete.
import { formatValue } from './measurements.js';

const TOOL_LABELS = {
  length: 'Length', angle: 'Angle', cobb: 'Cobb angle', arrow: 'Arrow', ellipse: 'Ellipse',
  rectangle: 'Rectangle', text: 'Text', vhs: 'Vertebral heart score', norberg: 'Norberg angle',
  tpa: 'Tibial plateau angle', calibration: 'Calibration',
};

export class AnnotationList {
  constructor({ root, onGoTo, onDelete }) {
    this.root = root;
    this.onGoTo = onGoTo;
    this.onDelete = onDelete;
    this.items = []; // { key, annotationUID, imageId, saved, live, tool, state, error }
  }

  byUid(uid) { return uid ? this.items.find((i) => i.annotationUID === uid) : undefined; }
  byId(id) { return this.items.find((i) => i.saved?.id === id); }

  setSaved(list) {
    this.items = list.map((saved) => ({ key: `saved-${saved.id}`, saved, tool: saved.tool, state: 'saved' }));
    this.render();
  }

  attach(id, annotationUID, imageId) {
    const item = this.byId(id);
    if (item) Object.assign(item, { annotationUID, imageId });
  }

  upsertLive(annotation, contract, values, imageId) {
    let item = this.byUid(annotation.annotationUID);
    if (!item) {
      item = { key: annotation.annotationUID, annotationUID: annotation.annotationUID, imageId, tool: contract.tool };
      this.items.push(item);
    }
    item.live = values;
    return item;
  }

  updateLive(uid, values) {
    const item = this.byUid(uid);
    if (item) {
      item.live = values;
      item.state = item.saved ? 'edited' : item.state;
      this.render();
    }
  }

  refreshLive(compute) {
    for (const item of this.items) {
      if (item.annotationUID && !item.saved) item.live = compute(item.annotationUID) || item.live;
    }
    this.render();
  }

  markSaved(uid, saved) {
    const item = this.byUid(uid);
    if (!item) return;
    Object.assign(item, { saved, state: 'saved', error: '', live: null });
    this.render();
  }

  markError(uid, message) {
    const item = this.byUid(uid);
    if (!item) return;
    Object.assign(item, { state: 'error', error: message });
    this.render();
  }

  remove(item) {
    this.items = this.items.filter((i) => i !== item);
    this.render();
  }

  render() {
    this.root.replaceChildren();
    for (const item of this.items) {
      const li = document.createElement('li');
      li.className = `annotation annotation-${item.state || 'live'}`;
      li.dataset.annotationState = item.state || 'live';
      li.dataset.tool = item.tool;
      if (item.saved?.id) li.dataset.annotationId = String(item.saved.id);
      const head = document.createElement('div');
      head.className = 'annotation-head';
      const title = document.createElement('button');
      title.type = 'button';
      title.className = 'linkish';
      title.textContent = TOOL_LABELS[item.tool] || item.tool;
      title.title = 'Show this image';
      title.addEventListener('click', () => this.onGoTo(item));
      head.append(title);
      const canEdit = !item.saved || item.saved.can_edit;
      if (canEdit) {
        const del = document.createElement('button');
        del.type = 'button';
        del.className = 'quiet';
        del.textContent = 'Delete';
        del.dataset.deleteAnnotation = '';
        del.addEventListener('click', () => this.onDelete(item));
        head.append(del);
      }
      li.append(head);
      const text = item.saved?.text;
      if (text) {
        const p = document.createElement('p');
        p.className = 'annotation-text';
        p.textContent = text;
        li.append(p);
      }
      const values = item.state === 'saved' ? item.saved?.values || [] : item.live || item.saved?.values || [];
      const ul = document.createElement('ul');
      ul.className = 'annotation-values';
      for (const value of values) {
        const v = document.createElement('li');
        v.dataset.valueName = value.name;
        v.dataset.value = String(value.value);
        v.dataset.unit = value.unit || '';
        v.textContent = formatValue(value);
        ul.append(v);
      }
      li.append(ul);
      const meta = document.createElement('p');
      meta.className = 'annotation-meta';
      const parts = [];
      if (item.saved?.author?.name) parts.push(item.saved.author.name);
      if (item.saved?.calibration_note) parts.push(item.saved.calibration_note);
      else if (item.saved?.calibration_source === 'none') parts.push('not calibrated — pixels');
      if (item.state === 'saving') parts.push('saving…');
      if (item.state === 'edited') parts.push('changed, saving soon');
      if (item.state === 'error') parts.push(`not saved: ${item.error}`);
      if (!canEdit) parts.push('read-only');
      meta.textContent = parts.join(' · ');
      li.append(meta);
      this.root.append(li);
    }
    if (!this.items.length) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No annotations yet.';
      this.root.append(li);
    }
  }
}
