# terraform apply -var-file=environments/dev.tfvars -var image_tag=<git sha>
environment = "dev"
aws_region  = "eu-central-1"

az_count           = 2
nat_gateway_per_az = false

db_instance_class        = "db.t4g.micro"
db_allocated_storage     = 20
db_max_allocated_storage = 50
db_multi_az              = false
db_backup_retention_days = 1
db_deletion_protection   = false

broker_instance_type = "mq.t3.micro" # SINGLE_INSTANCE in dev

datemaker_desired_count = 1
datemaker_cpu           = 256
datemaker_memory        = 512
bot_cpu                 = 256
bot_memory              = 512
container_insights      = false

secret_recovery_window_days = 0
log_retention_days          = 14
debug                       = true
