// "Add photos, videos or documents": each file is posted on its own to /api/media/ so that a
// progress bar and a result show per file; files of one visit share the page's batch.
(function () {
  const form = document.querySelector('[data-attach-form]');
  if (!form) return;
  const input = form.querySelector('[data-file-input]');
  const zone = form.querySelector('[data-dropzone]');
  const results = document.querySelector('[data-results]');
  const done = document.querySelector('[data-attach-done]');
  const studyChoice = form.querySelector('[data-study-choice]');
  const newStudy = form.querySelector('[data-new-study]');
  const csrf = form.querySelector('[name=csrfmiddlewaretoken]').value;
  const queue = [];
  let busy = false;

  function syncNewStudy() {
    if (studyChoice && newStudy) newStudy.hidden = studyChoice.value !== '';
  }
  studyChoice?.addEventListener('change', syncNewStudy);
  syncNewStudy();

  function row(file) {
    const item = document.createElement('li');
    item.className = 'attach-result attach-pending';
    const name = document.createElement('span');
    name.className = 'attach-name';
    name.textContent = `${file.name}: waiting…`;
    const bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    item.append(name, bar);
    results.append(item);
    return { item, name, bar };
  }

  function finish(view, result) {
    view.bar.remove();
    view.item.className = `attach-result attach-${result.status}`;
    view.item.dataset.status = result.status;
    view.name.textContent = result.message;
    if (result.study_url) {
      const link = done.querySelector('[data-study-link]');
      link.href = result.study_url;
      done.hidden = false;
      // Later files of this visit go to the same study, even a new one made by the first file.
      if (studyChoice && !studyChoice.value && result.study) {
        let option = [...studyChoice.options].find((o) => o.value === String(result.study));
        if (!option) {
          option = new Option('The new study (just made)', String(result.study));
          studyChoice.append(option);
        }
        studyChoice.value = String(result.study);
        syncNewStudy();
      }
    }
  }

  function upload(file, view) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append('file', file, file.name);
      data.append('batch', form.elements.batch.value);
      data.append('patient', form.dataset.patient);
      const study = form.elements.study?.value;
      if (study) data.append('study', study);
      data.append('study_description', form.elements.study_description?.value || '');
      data.append('video_kind', form.querySelector('[name=video_kind]:checked')?.value || 'other');
      const request = new XMLHttpRequest();
      request.open('POST', form.dataset.apiUrl);
      request.setRequestHeader('X-CSRFToken', csrf);
      request.setRequestHeader('Accept', 'application/json');
      request.upload.addEventListener('progress', (event) => {
        view.bar.value = event.loaded;
        view.name.textContent = `${file.name}: ${Math.round((100 * event.loaded) / (event.total || 1))} % sent`;
      });
      request.upload.addEventListener('load', () => {
        view.name.textContent = `${file.name}: converting…`;
      });
      request.addEventListener('load', () => {
        let result;
        try {
          result = JSON.parse(request.responseText);
        } catch {
          result = {};
        }
        if (!result.status) {
          const why = request.status === 403 ? 'you may not add files to studies' : (result.detail || `the portal answered ${request.status}`);
          result = { status: 'refused', message: `${file.name}: ${why}` };
        }
        finish(view, result);
        resolve();
      });
      request.addEventListener('error', () => {
        finish(view, { status: 'refused', message: `${file.name}: the connection was lost; try again` });
        resolve();
      });
      request.send(data);
    });
  }

  async function drain() {
    if (busy) return;
    busy = true;
    // One at a time: the first file of a new study creates it, the others join it.
    while (queue.length) {
      const [file, view] = queue.shift();
      await upload(file, view);
    }
    busy = false;
  }

  function add(files) {
    for (const file of files) queue.push([file, row(file)]);
    drain();
  }

  input.addEventListener('change', () => {
    add([...input.files]);
    input.value = '';
  });
  for (const name of ['dragenter', 'dragover']) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add('dragging'); });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    add([...event.dataTransfer.files]);
  });
  form.addEventListener('submit', (event) => event.preventDefault());
}());
