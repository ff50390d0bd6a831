// A model version: source run, stage, tags, description (markdown, editable), the review
// workflow (request a stage transition; approve, reject or cancel a pending request, each
// with a comment), comments, and the audit history. What each user may do is the server's
// decision: a refusal shows as "permission denied: " and the server's reason.
import {api, post} from '../api.js';
import {h, fill, link, table, errorBox} from '../dom.js';
import {when} from '../format.js';
import {descriptionSection} from '../describe.js';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

export async function versionPage(main, [name, number]) {
  const [body, me] = await Promise.all([api('/model-version', {name, version: number}), api('/me', {})]);
  const v = body.version;
  const status = h('div', {id: 'review-status', 'aria-live': 'polite'});
  const reload = () => versionPage(main, [name, number]);
  const act = async (fields) => {
    fill(status, h('p', {class: 'muted'}, 'Saving…'));
    try {
      await post('/review/transition', {name, version: String(v.version), ...fields});
      await reload();
    } catch (err) { fill(status, errorBox(err)); }
  };
  const modelLink = link(name, '/models/' + encodeURIComponent(name));
  const history = h('div', {id: 'audit'}, h('p', {class: 'muted'}, 'Loading…'));
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Models', '/models'), ' / ', modelLink, ' / '),
    h('h1', {}, `${name} version ${v.version}`),
    h('p', {class: 'muted', id: 'signed-in'}, me.signed_in ? `Signed in as ${me.user}${me.admin ? ' (admin)' : ''}`
      : `Acting as ${me.user} (this server has no sign-in)`),
    h('dl', {class: 'facts'},
      ...[['Stage', h('span', {id: 'stage'}, v.current_stage)], ['Aliases', v.aliases.map(a => `@${a}`).join(' ') || '—'],
        ['Status', v.status], ['Source run', v.run_id ? link(v.run_id, '/runs/' + encodeURIComponent(v.run_id)) : '—'],
        ['Source', h('span', {class: 'mono'}, v.source)], ['Created', when(v.creation_timestamp)],
        ['Updated', when(v.last_updated_timestamp)], ['By', v.user_id || '']].flatMap(([t, d]) => [h('dt', {}, t), h('dd', {}, d)])),
    descriptionSection(v.description, body.description_html,
      text => post('/model-version/description', {name, version: String(v.version), description: text})),
    h('section', {}, h('h2', {}, 'Tags'), Object.keys(v.tags).length ? table(['Key', 'Value'], Object.entries(v.tags)) : h('p', {class: 'muted'}, 'None.')),
    reviewSection(v, body.requests, me, act, status),
    commentSection(name, v, body.comments, reload),
    h('section', {}, h('h2', {}, 'Audit history'), history));
  try {
    const events = (await api('/model-version/events', {name, version: v.version})).events;
    fill(history, events.length ? table(['When', 'User', 'Action', 'Outcome', 'From', 'To', 'Comment'],
      events.map(e => h('tr', {class: e.outcome === 'denied' ? 'denied' : null},
        [when(e.timestamp), e.user_id || '', e.action, e.outcome, e.from_value || '', e.to_value || '', e.comment || '']
          .map(c => h('td', {}, c)))), {id: 'audit-table'}) : h('p', {class: 'muted'}, 'No events.'));
  } catch (err) { fill(history, errorBox(err)); }
}

function reviewSection(v, requests, me, act, status) {
  const pending = requests.filter(r => r.status === 'PENDING');
  const stage = h('select', {id: 'request-stage'},
    STAGES.filter(s => s !== v.current_stage).map(s => h('option', {value: s}, s)));
  const comment = h('input', {id: 'request-comment', type: 'text', class: 'wide', autocomplete: 'off'});
  const requestForm = h('form', {class: 'bar', id: 'request-form', onsubmit: e => {
    e.preventDefault();
    act({action: 'request', stage: stage.value, comment: comment.value});
  }}, h('label', {for: 'request-stage'}, 'Request a move to'), stage,
    h('label', {for: 'request-comment'}, 'Comment'), comment,
    h('button', {type: 'submit', id: 'request-transition'}, 'Request transition'));
  const rows = pending.map((r, i) => {
    const note = h('input', {type: 'text', id: `resolve-comment-${i}`, autocomplete: 'off',
      'aria-label': `Comment on the request to move to ${r.stage}`});
    const archive = h('input', {type: 'checkbox', id: `archive-${i}`});
    const button = (action, text) => h('button', {type: 'button', class: `review-${action}`,
      onclick: () => act({action, stage: r.stage, comment: note.value,
        archive_existing_versions: action === 'approve' && archive.checked ? 'true' : null})}, text);
    return h('tr', {class: 'pending-request'}, h('td', {}, r.stage), h('td', {}, r.requested_by || ''),
      h('td', {}, when(r.requested_at)), h('td', {}, r.comment || ''),
      h('td', {}, h('div', {class: 'bar small'}, note, button('approve', 'Approve'),
        ['Staging', 'Production'].includes(r.stage) ? h('label', {class: 'check'}, archive,
          `On approval, archive the other ${r.stage} versions`) : null,
        button('reject', 'Reject'),
        r.requested_by === me.user || me.admin || me.registry_admin ? button('cancel', 'Cancel request') : null)));
  });
  const done = requests.filter(r => r.status !== 'PENDING');
  return h('section', {id: 'review'}, h('h2', {}, 'Stage transitions'), requestForm, status,
    h('h3', {}, `Pending requests (${pending.length})`),
    pending.length ? table(['Stage', 'Requested by', 'At', 'Comment', 'Review'], rows, {id: 'pending-table'})
      : h('p', {class: 'muted'}, 'None.'),
    done.length ? [h('h3', {}, 'Resolved requests'), table(['Stage', 'Status', 'Requested by', 'Resolved by', 'Resolution'],
      done.map(r => [r.stage, r.status, r.requested_by || '', r.resolved_by || '', r.resolution_comment || '']))] : null);
}

function commentSection(name, v, comments, reload) {
  const text = h('textarea', {id: 'comment-text', rows: 2, class: 'wide'});
  const status = h('div', {'aria-live': 'polite'});
  return h('section', {}, h('h2', {}, 'Comments'),
    comments.length ? h('ul', {id: 'comments'}, comments.map(c =>
      h('li', {}, h('strong', {}, c.user_id || 'someone'), ` (${when(c.timestamp)}): `, c.comment))) : h('p', {class: 'muted'}, 'None.'),
    h('form', {onsubmit: async e => {
      e.preventDefault();
      try { await post('/review/comment', {name, version: String(v.version), comment: text.value}); await reload(); }
      catch (err) { fill(status, errorBox(err)); }
    }}, h('label', {for: 'comment-text'}, 'Add a comment'), text, h('button', {type: 'submit'}, 'Comment')), status);
}
