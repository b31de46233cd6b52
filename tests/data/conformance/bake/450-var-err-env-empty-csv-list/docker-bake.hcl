variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64"]
}
target "default" {
  platforms = PLATFORMS
}
