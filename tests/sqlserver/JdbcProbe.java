// A BI tool's first minutes with lakeml sql-server, through the PostgreSQL JDBC driver:
// metadata (getTables, getColumns), a prepared statement with a parameter, and a
// 100,000-row result read with a fetch size (a server-side portal). Prints key=value
// lines for tests/sqlserver/test_jdbc.py to check.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("product=" + meta.getDatabaseProductName() + " "
                               + meta.getDatabaseProductVersion());
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, null, "%", null)) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            System.out.println("tables=" + String.join(",", tables));
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, null, "runs", null)) {
                while (rs.next()) {
                    columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                }
            }
            System.out.println("columns=" + String.join(",", columns));
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT run_name, value FROM runs JOIN latest_metrics USING (run_id) "
                    + "WHERE key = ? AND value < ? ORDER BY value, run_name")) {
                for (int round = 0; round < 7; round++) {  // past prepareThreshold (5)
                    ps.setString(1, "rmse");
                    ps.setDouble(2, 0.6);
                    List<String> rows = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            rows.add(rs.getString(1) + "=" + rs.getDouble(2));
                        }
                    }
                    System.out.println("prepared" + round + "=" + String.join(",", rows));
                }
            }
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.setFetchSize(5000);
                long count = 0, sum = 0;
                try (ResultSet rs = st.executeQuery(
                        "SELECT range AS i, 'row ' || range AS label FROM range(100000)")) {
                    while (rs.next()) {
                        count++;
                        sum += rs.getLong(1);
                    }
                }
                System.out.println("big=" + count + ":" + sum);
            }
            conn.commit();
        }
    }
}
