target "default" {
  args = {
    PLAIN = <<EOT
	tab-indented
    space-indented

	last
EOT
    TRIM_TABS = <<-EOT
		two tabs
		  two tabs two spaces

		two tabs again
		EOT
    TRIM_MIXED = <<-EOT
        eight spaces
	one tab
      six spaces
    EOT
    TRIM_BLANK_LINES = <<-EOT

      a
   

        b

    EOT
    TRIM_WS_ONLY_LINE = <<-EOT
      a
  
      b
    EOT
    EMPTY = <<EOT
EOT
    EMPTY_TRIM = <<-EOT
    EOT
  }
}
