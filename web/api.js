/**
 * The browser side of the JSON API (/api/v1/, README.md "Web UI and JSON API"). Every
 * failure becomes an ApiError with the server's typed code, so a view can say what went
 * wrong in words; changes carry the X-XSRF-HEADER header the server requires of them; every
 * request names the user the page acts as (`user.name`, from the header's "user" field).
 */

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Where the page keeps the user it acts as (the "user" field, app.js). */
const USER_KEY = 'dfs.user';

/**
 * The user every request acts as (`user.name`, HDFS simple auth); '' means none given, so the
 * NameNode acts as its static web user, dr.who. The NameNode checks permissions as this user.
 */
export function currentUser() {
  try {
    return localStorage.getItem(USER_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setUser(name) {
  const v = name.trim();
  if (v === '') localStorage.removeItem(USER_KEY);
  else localStorage.setItem(USER_KEY, v);
}

function url(path, query = {}) {
  const q = new URLSearchParams();
  const user = currentUser();
  if (user !== '') q.set('user.name', user);
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `/api/v1/${path}${s === '' ? '' : `?${s}`}`;
}

async function failure(res) {
  try {
    const body = await res.json();
    if (body && body.error) return new ApiError(res.status, body.error.code, body.error.message);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `HTTP_${res.status}`, res.statusText || 'request failed');
}

export async function get(path, query) {
  const res = await fetch(url(path, query), { headers: { Accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export async function change(method, path, query) {
  const res = await fetch(url(path, query), { method, headers: { 'X-XSRF-HEADER': 'dfs-ui' } });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export function contentUrl(path) {
  return url('content', { path });
}

/** Uploads a File to `path` with progress (XMLHttpRequest: fetch reports no upload progress). */
export function upload(path, file, overwrite, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url('content', { path, overwrite: overwrite ? 'true' : undefined }));
    xhr.setRequestHeader('X-XSRF-HEADER', 'dfs-ui');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload failed (connection lost)'));
    xhr.onload = () => {
      let body;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else if (body && body.error) reject(new ApiError(xhr.status, body.error.code, body.error.message));
      else reject(new ApiError(xhr.status, `HTTP_${xhr.status}`, 'the upload failed'));
    };
    xhr.send(file);
  });
}

/** A DFS path joined from a directory and a name. */
export function join(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
