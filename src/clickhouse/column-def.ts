/** A column of a CREATE TABLE statement. `default` and `alias` are SQL expressions. */
export interface ColumnDef {
  name: string;
  type: string;
  default?: string;
  alias?: string;
  comment?: string;
}
