"""What people read: tables, plots and the HTML report."""
