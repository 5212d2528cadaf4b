# terraform apply -var-file=environments/prod.tfvars -var image_tag=<git sha>
environment = "prod"
aws_region  = "eu-central-1"

az_count           = 3
nat_gateway_per_az = true

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 50
db_max_allocated_storage = 500
db_multi_az              = true
db_backup_retention_days = 14
db_deletion_protection   = true

broker_instance_type = "mq.m5.large" # CLUSTER_MULTI_AZ in prod (three nodes)

datemaker_desired_count = 2
datemaker_cpu           = 512
datemaker_memory        = 1024
bot_cpu                 = 512
bot_memory              = 1024
container_insights      = true

secret_recovery_window_days = 30
log_retention_days          = 90
debug                       = false
