/** Archives: count, size, compression ratio and date of each; restore and delete from the row. */
import * as vscode from 'vscode';
import type { Archive, ArchiveList } from '../../protocol';
import { archiveRow } from '../model/archives';
import { Row, ServerTree, setContext } from './tree';

export type ArchiveRow = Row<'archive', Archive>;

export class ArchivesView extends ServerTree<ArchiveRow> {
  protected async roots(): Promise<ArchiveRow[]> {
    const { archives } = await this.server.request<ArchiveList.Result>('archive/list', {});
    void setContext('hasArchives', archives.length > 0);
    return archives.map((a) => {
      const view = archiveRow(a);
      const r = new Row('archive', a, view.label);
      r.id = `archive:${a.id}`;
      r.description = view.description;
      r.tooltip = view.tooltip;
      r.iconPath = new vscode.ThemeIcon(a.state === 'restored' ? 'history' : 'archive');
      if (a.state === 'restored') r.contextValue = 'archive-restored';
      return r;
    });
  }

  protected async children(): Promise<ArchiveRow[]> {
    return [];
  }
}
